"""Step Functions' spelling of aws-sdk parameters, accepted by boto3 clients under emulation."""

from __future__ import annotations

import boto3
from botocore import handlers
from platform_replay.emulation import install_sdk_parameter_casing


def test_lambda_mapping_accepts_step_functions_spelling_and_its_own(world):
    # New clients (a new session, as moto's interpreter makes) and the fixture's clients alike.
    lambda_client = boto3.Session().client("lambda")
    updated = lambda_client.update_event_source_mapping(Uuid=world.live_mapping_uuid, Enabled=True)
    assert updated["UUID"] == world.live_mapping_uuid
    assert world.mapping_state() == "Enabled"
    world.aws.lambda_client.update_event_source_mapping(UUID=world.live_mapping_uuid, Enabled=False)
    assert world.mapping_state() == "Disabled"


def test_installing_twice_registers_once():
    install_sdk_parameter_casing()
    before = list(handlers.BUILTIN_HANDLERS)
    install_sdk_parameter_casing()
    assert before == handlers.BUILTIN_HANDLERS
