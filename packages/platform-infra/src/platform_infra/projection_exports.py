"""The stack exports every projection stack makes, under the same names, so that operators, docs
and tools find a projection's replay state machine and queues the same way for every projection:
``pulumi stack output replayStateMachineArn``."""

from __future__ import annotations

from enum import StrEnum

import pulumi

from platform_infra.projection_service import ProjectionService


class ProjectionExport(StrEnum):
    FUNCTION_NAME = "functionName"
    MIGRATION_FUNCTION_NAME = "migrationFunctionName"
    LIVE_QUEUE_URL = "liveQueueUrl"
    LIVE_QUEUE_ARN = "liveQueueArn"
    DEAD_LETTER_QUEUE_URL = "deadLetterQueueUrl"
    """The live queue's dead-letter queue."""
    LIVE_MAPPING_ID = "liveMappingId"
    REPLAY_QUEUE_URL = "replayQueueUrl"
    REPLAY_DEAD_LETTER_QUEUE_URL = "replayDeadLetterQueueUrl"
    REPLAY_MAPPING_ID = "replayMappingId"
    REPLAY_STATE_MACHINE_ARN = "replayStateMachineArn"
    """What ``python -m platform_replay start|rebuild --state-machine-arn`` takes."""
    FILTER_POLICY = "filterPolicy"


def export_projection_service(service: ProjectionService) -> None:
    """Export every ``ProjectionExport`` of ``service`` from the current stack."""
    values: dict[ProjectionExport, object] = {
        ProjectionExport.FUNCTION_NAME: service.function.function_name,
        ProjectionExport.MIGRATION_FUNCTION_NAME: service.migration.function_name,
        ProjectionExport.LIVE_QUEUE_URL: service.live_queue.url,
        ProjectionExport.LIVE_QUEUE_ARN: service.live_queue.arn,
        ProjectionExport.DEAD_LETTER_QUEUE_URL: service.live_dead_letter_queue.url,
        ProjectionExport.LIVE_MAPPING_ID: service.live_mapping.uuid,
        ProjectionExport.REPLAY_QUEUE_URL: service.replay_queue.url,
        ProjectionExport.REPLAY_DEAD_LETTER_QUEUE_URL: service.replay_dead_letter_queue.url,
        ProjectionExport.REPLAY_MAPPING_ID: service.replay_mapping.uuid,
        ProjectionExport.REPLAY_STATE_MACHINE_ARN: service.replay_state_machine.arn,
        ProjectionExport.FILTER_POLICY: service.filter_policy,
    }
    for key, value in values.items():
        pulumi.export(key.value, value)
