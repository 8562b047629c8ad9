"""Composition root: settings, the SNS client and the event registry, built once per container."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from platform_events import EventRegistry, default_registry
from stream_relay.relay import EventPublisher, RelayOutcome, relay_records
from stream_relay.settings import RelaySettings
from stream_relay.sns import SnsBusPublisher

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# Fail fast and let Lambda's retry of the batch do the waiting: a hung call would otherwise eat
# the function's timeout, and a timed-out invocation retries the whole batch anyway.
SNS_CLIENT_CONFIG: Final = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)


@dataclass(frozen=True, slots=True)
class Relay:
    """The relay with its collaborators: what the Lambda handler (and a local runner) calls.

    Domain-neutral: event items carry their envelope's canonical text, which decodes exactly
    without payload models, so the relay imports no domain package. The registry only matters
    for items written without that text, whose payloads are then decoded through it.
    """

    publisher: EventPublisher
    registry: EventRegistry = default_registry

    def __call__(self, records: Sequence[object]) -> RelayOutcome:
        return relay_records(records, self.publisher, self.registry)


def build_relay(settings: RelaySettings, sns_client: SNSClient | None = None) -> Relay:
    """Wire the relay; tests pass a moto-backed or fault-injecting client."""
    client = sns_client if sns_client is not None else new_sns_client()
    return Relay(SnsBusPublisher(client, settings.bus_topic_arn))


def new_sns_client() -> SNSClient:
    return boto3.client("sns", config=SNS_CLIENT_CONFIG)


@cache
def relay_from_environment() -> Relay:
    """The container's relay, read from the environment on first use and kept warm."""
    return build_relay(RelaySettings.from_environment())
