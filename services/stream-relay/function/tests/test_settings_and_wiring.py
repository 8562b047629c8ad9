"""Settings read once from the environment, and the handler wired from them (moto)."""

from __future__ import annotations

import importlib

import pytest
from stream_relay.bootstrap import relay_from_environment
from stream_relay.handler import lambda_handler
from stream_relay.settings import BUS_TOPIC_ARN_ENV, HANDLER, RelaySettings, SettingsError

FIFO_ARN = "arn:aws:sns:eu-west-1:123456789012:event-bus.fifo"


def test_settings_read_the_bus_topic_arn():
    assert RelaySettings.from_environment({BUS_TOPIC_ARN_ENV: FIFO_ARN}).bus_topic_arn == FIFO_ARN


@pytest.mark.parametrize(
    "environ",
    [{}, {BUS_TOPIC_ARN_ENV: ""}, {BUS_TOPIC_ARN_ENV: FIFO_ARN.removesuffix(".fifo")}],
    ids=["missing", "empty", "standard-topic"],
)
def test_settings_refuse_a_missing_or_non_fifo_topic(environ):
    with pytest.raises(SettingsError, match=BUS_TOPIC_ARN_ENV):
        RelaySettings.from_environment(environ)


@pytest.fixture
def relay_from_env(bus, monkeypatch):
    monkeypatch.setenv(BUS_TOPIC_ARN_ENV, bus.topic_arn)
    relay_from_environment.cache_clear()
    yield
    relay_from_environment.cache_clear()


def test_the_handler_builds_its_relay_once_from_the_environment(
    relay_from_env, event_store, bus, lambda_context, account_history
):
    first, second = account_history(deposits=1), account_history(deposits=1)
    event_store.append(*first)
    records = event_store.stream_records()
    assert lambda_handler({"Records": records}, lambda_context) == {"batchItemFailures": []}
    container = relay_from_environment()

    event_store.append(*second)
    later = event_store.stream_records()[len(records) :]
    assert lambda_handler({"Records": later}, lambda_context) == {"batchItemFailures": []}

    assert relay_from_environment() is container
    assert bus.drain() == first + second


def test_the_handler_name_the_stack_deploys_is_the_handler():
    module, _, function = HANDLER.rpartition(".")
    assert getattr(importlib.import_module(module), function) is lambda_handler
