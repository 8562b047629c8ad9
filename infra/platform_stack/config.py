"""The platform stack's configuration: every key, its default, and its validation in one place.

Keys live in the ``platform`` project's namespace (``pulumi config set dbInstanceClass
db.t4g.small``); docs/deploy.md lists them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, cast

import pulumi

DEFAULT_INTERFACE_ENDPOINTS: Final = (
    "secretsmanager",
    "sqs",
    "sns",
    "states",
    "logs",
    "monitoring",
)
"""AWS APIs in-VPC functions may call, reached through interface endpoints (there is no NAT)."""

_IDENTIFIER: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")
_ENDPOINT_SERVICE: Final = re.compile(r"[a-z0-9][a-z0-9.-]*")


@dataclass(frozen=True)
class PlatformConfig:
    vpc_cidr: str = "10.42.0.0/16"
    availability_zone_count: int = 2
    interface_endpoints: Sequence[str] = DEFAULT_INTERFACE_ENDPOINTS
    deletion_protection: bool = True
    """DynamoDB and RDS deletion protection; turn off (and `pulumi up`) before tearing down."""
    bus_throughput_scope: Literal["MessageGroup", "Topic"] = "MessageGroup"
    db_engine_version: str = "16"
    db_instance_class: str = "db.t4g.micro"
    db_allocated_storage_gb: int = 20
    db_max_allocated_storage_gb: int = 100
    db_multi_az: bool = False
    db_backup_retention_days: int = 7
    db_name: str = "projections"
    db_master_username: str = "platform_owner"

    def __post_init__(self) -> None:
        network = ipaddress.ip_network(self.vpc_cidr)
        if not isinstance(network, ipaddress.IPv4Network) or not 16 <= network.prefixlen <= 24:
            raise ValueError(f"vpcCidr {self.vpc_cidr} must be an IPv4 block from /16 to /24")
        if not 2 <= self.availability_zone_count <= 6:
            raise ValueError("availabilityZoneCount must be 2..6 (RDS needs two zones)")
        unknown = [n for n in self.interface_endpoints if not _ENDPOINT_SERVICE.fullmatch(n)]
        if unknown:
            raise ValueError(f"interfaceEndpoints are service names like 'sqs', not {unknown}")
        if self.bus_throughput_scope not in ("MessageGroup", "Topic"):
            raise ValueError("busThroughputScope is MessageGroup or Topic")
        if not re.fullmatch(r"\d+(\.\d+)?", self.db_engine_version):
            raise ValueError("dbEngineVersion is a PostgreSQL version such as 16 or 16.4")
        for label, value in (
            ("dbName", self.db_name),
            ("dbMasterUsername", self.db_master_username),
        ):
            if not _IDENTIFIER.fullmatch(value):
                raise ValueError(f"{label} must be a lower-case SQL identifier, not {value!r}")
        if self.db_max_allocated_storage_gb < self.db_allocated_storage_gb:
            raise ValueError("dbMaxAllocatedStorageGb must be at least dbAllocatedStorageGb")

    @property
    def db_engine_major(self) -> str:
        return self.db_engine_version.split(".")[0]

    @classmethod
    def from_pulumi(cls, config: pulumi.Config | None = None) -> PlatformConfig:
        config = config or pulumi.Config()
        defaults = cls()
        endpoints = config.get_object("interfaceEndpoints")
        return cls(
            vpc_cidr=config.get("vpcCidr") or defaults.vpc_cidr,
            availability_zone_count=_int(
                config, "availabilityZoneCount", defaults.availability_zone_count
            ),
            interface_endpoints=(
                _strings(endpoints, "interfaceEndpoints")
                if endpoints is not None
                else defaults.interface_endpoints
            ),
            deletion_protection=_bool(config, "deletionProtection", defaults.deletion_protection),
            bus_throughput_scope=cast(
                Literal["MessageGroup", "Topic"],
                config.get("busThroughputScope") or defaults.bus_throughput_scope,
            ),
            db_engine_version=config.get("dbEngineVersion") or defaults.db_engine_version,
            db_instance_class=config.get("dbInstanceClass") or defaults.db_instance_class,
            db_allocated_storage_gb=_int(
                config, "dbAllocatedStorageGb", defaults.db_allocated_storage_gb
            ),
            db_max_allocated_storage_gb=_int(
                config, "dbMaxAllocatedStorageGb", defaults.db_max_allocated_storage_gb
            ),
            db_multi_az=_bool(config, "dbMultiAz", defaults.db_multi_az),
            db_backup_retention_days=_int(
                config, "dbBackupRetentionDays", defaults.db_backup_retention_days
            ),
            db_name=config.get("dbName") or defaults.db_name,
            db_master_username=config.get("dbMasterUsername") or defaults.db_master_username,
        )


def _int(config: pulumi.Config, key: str, default: int) -> int:
    value = config.get_int(key)
    return default if value is None else value


def _bool(config: pulumi.Config, key: str, default: bool) -> bool:
    value = config.get_bool(key)
    return default if value is None else value


def _strings(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} is a JSON list of strings")
    return tuple(value)
