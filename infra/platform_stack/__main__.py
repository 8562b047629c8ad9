"""The platform stack (``Pulumi.yaml`` runs this folder): configuration, components and exports,
nothing else."""

import pulumi
from platform_infra.context import StackContext
from platform_infra.platform_outputs import PLATFORM_SERVICE, PlatformOutput
from platform_infra.tags import register_standard_tags

from platform_stack.config import PlatformConfig
from platform_stack.event_bus import EventBus, EventBusArgs
from platform_stack.event_store import EventStore, EventStoreArgs
from platform_stack.network import Network, NetworkArgs
from platform_stack.projection_database import ProjectionDatabase, ProjectionDatabaseArgs

context = StackContext.from_pulumi(PLATFORM_SERVICE)
register_standard_tags(context)
config = PlatformConfig.from_pulumi()

store = EventStore(
    "event-store", EventStoreArgs(context=context, deletion_protection=config.deletion_protection)
)
bus = EventBus(
    "event-bus", EventBusArgs(context=context, throughput_scope=config.bus_throughput_scope)
)
network = Network(
    "network",
    NetworkArgs(
        context=context,
        cidr_block=config.vpc_cidr,
        availability_zone_count=config.availability_zone_count,
        interface_endpoints=config.interface_endpoints,
    ),
)
database = ProjectionDatabase(
    "projection-database",
    ProjectionDatabaseArgs(
        context=context,
        subnet_ids=[subnet.id for subnet in network.subnets],
        database_security_group_id=network.database_security_group.id,
        proxy_security_group_id=network.proxy_security_group.id,
        engine_version=config.db_engine_version,
        instance_class=config.db_instance_class,
        allocated_storage_gb=config.db_allocated_storage_gb,
        max_allocated_storage_gb=config.db_max_allocated_storage_gb,
        multi_az=config.db_multi_az,
        backup_retention_days=config.db_backup_retention_days,
        deletion_protection=config.deletion_protection,
        db_name=config.db_name,
        master_username=config.db_master_username,
    ),
)

outputs: dict[PlatformOutput, object] = {
    PlatformOutput.EVENT_STORE_TABLE_NAME: store.table_name,
    PlatformOutput.EVENT_STORE_TABLE_ARN: store.table_arn,
    PlatformOutput.EVENT_STORE_STREAM_ARN: store.stream_arn,
    PlatformOutput.EVENT_BUS_TOPIC_ARN: bus.topic_arn,
    PlatformOutput.EVENT_BUS_TOPIC_NAME: bus.topic_name,
    PlatformOutput.EVENT_BUS_KEY_ARN: bus.key_arn,
    PlatformOutput.VPC_ID: network.vpc_id,
    PlatformOutput.PRIVATE_SUBNET_IDS: network.private_subnet_ids,
    PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID: network.functions_security_group.id,
    PlatformOutput.DATABASE_SECURITY_GROUP_ID: network.database_security_group.id,
    PlatformOutput.PROXY_SECURITY_GROUP_ID: network.proxy_security_group.id,
    PlatformOutput.DB_INSTANCE_ADDRESS: database.address,
    PlatformOutput.DB_INSTANCE_PORT: database.port,
    PlatformOutput.DB_NAME: config.db_name,
    PlatformOutput.DB_MASTER_USERNAME: config.db_master_username,
    PlatformOutput.DB_MASTER_SECRET_ARN: database.master_secret_arn,
    PlatformOutput.DB_PROXY_ENDPOINT: database.proxy_endpoint,
    PlatformOutput.DB_PROXY_ARN: database.proxy_arn,
    PlatformOutput.DB_PROXY_USER_ARN_PREFIX: database.proxy_user_arn_prefix,
}
for key, value in outputs.items():
    pulumi.export(key.value, value)
