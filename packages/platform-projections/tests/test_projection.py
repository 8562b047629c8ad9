from __future__ import annotations

from decimal import Decimal

import pytest
from platform_projections import (
    Projection,
    UnknownEvent,
    generation_column,
    on,
    subscription_filter_policy,
)
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, Table, Text

from account_events import AccountOpened, MoneyDeposited
from platform_events import EventRegistry, default_registry


def test_the_filter_policy_names_exactly_the_handled_event_types(ledger):
    assert subscription_filter_policy(ledger) == {
        "aggregate_type": ["Account"],
        "event_type": ["AccountOpened", "MoneyDeposited"],
    }
    assert ledger.filter_policy() == subscription_filter_policy(ledger)


def test_the_declaration_names_its_schema_and_writer_role(ledger):
    assert ledger.schema == "ledger"
    assert ledger.writer_role == "ledger_writer"
    assert ledger.event_types == ("AccountOpened", "MoneyDeposited")
    assert ledger.aggregate_types == ("Account",)


def test_payloads_reach_apply_functions_typed(ledger, history):
    events = history("d2.50")
    state = ledger.apply(None, events[0])
    state = ledger.apply(state, events[1])
    assert (state.total, state.deposits, state.version) == (Decimal("2.50"), 1, 2)


def test_an_event_type_without_a_handler_is_refused(ledger, history):
    events = history("w1")
    with pytest.raises(UnknownEvent):
        ledger.apply(None, events[1])


def _projection(**overrides):
    metadata = MetaData(schema="things")
    Table("things", metadata, generation_column(), Column("id", Text, primary_key=True))
    arguments = {
        "name": "things",
        "metadata": metadata,
        "store": None,
        "handlers": (on(AccountOpened, lambda state, event: 1),),
    }
    arguments.update(overrides)
    return Projection(**arguments)


def test_a_valid_declaration_is_accepted():
    assert _projection().event_types == ("AccountOpened",)


@pytest.mark.parametrize("name", ["Things", "things-2", "1things", "x" * 41])
def test_a_name_must_be_a_short_lower_case_identifier(name):
    with pytest.raises(ValueError, match="name"):
        _projection(name=name)


def test_tables_must_live_in_the_projection_schema():
    elsewhere = MetaData(schema="public")
    Table("things", elsewhere, Column("id", Text, primary_key=True))
    with pytest.raises(ValueError, match="outside"):
        _projection(metadata=elsewhere)


def test_an_event_type_has_one_apply_function():
    handlers = (on(AccountOpened, lambda s, e: 1), on(AccountOpened, lambda s, e: 2))
    with pytest.raises(ValueError, match="two apply functions"):
        _projection(handlers=handlers)


def test_a_projection_handles_something():
    with pytest.raises(ValueError, match="at least one"):
        _projection(handlers=())


def test_apply_functions_take_the_latest_schema_version_only():
    registry = EventRegistry()

    @registry.register("Renamed", aggregate_type="Thing", schema_version=1)
    class RenamedV1(BaseModel):
        name: str

    @registry.register("Renamed", aggregate_type="Thing", schema_version=2)
    class RenamedV2(BaseModel):
        name: str
        by: str

    assert on(RenamedV2, lambda s, e: 1, registry=registry).event_type == "Renamed"
    with pytest.raises(ValueError, match="v1, not v2"):
        on(RenamedV1, lambda s, e: 1, registry=registry)


def test_an_unregistered_payload_model_cannot_be_handled():
    class Stray(BaseModel):
        pass

    with pytest.raises(Exception, match="Stray"):
        on(Stray, lambda s, e: 1)
    assert default_registry.is_registered(MoneyDeposited.__name__)


@pytest.mark.parametrize(
    "columns",
    [
        [Column("id", Text, primary_key=True)],
        [Column("id", Text, primary_key=True), Column("generation", Integer, primary_key=True)],
        [Column("generation", Text, primary_key=True), Column("id", Text, primary_key=True)],
    ],
    ids=["no-generation", "generation-second", "generation-not-integer"],
)
def test_every_table_leads_its_key_with_an_integer_generation(columns):
    metadata = MetaData(schema="things")
    Table("things", metadata, *columns)
    with pytest.raises(ValueError, match="generation"):
        _projection(metadata=metadata)
