"""What the read models must equal: left folds of the event store, written independently of the
projections' code (from the envelopes' JSON and the contract alone)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from platform_events import EventEnvelope, format_timestamp


@dataclass(frozen=True)
class AccountFold:
    """An account as the contract's ``GET /accounts/{id}`` describes it."""

    account_id: str
    owner: str
    currency: str
    balance: Decimal
    status: str
    version: int
    updated_at: str

    def document(self) -> dict[str, Any]:
        """The query API's JSON for this account (money as a two-decimal string)."""
        return {
            "account_id": self.account_id,
            "owner": self.owner,
            "currency": self.currency,
            "balance": f"{self.balance:.2f}",
            "status": self.status,
            "version": self.version,
            "updated_at": self.updated_at,
        }


def by_stream(events: Iterable[EventEnvelope]) -> dict[str, list[EventEnvelope]]:
    """Each stream's events in version order."""
    streams: dict[str, list[EventEnvelope]] = {}
    for envelope in sorted(events, key=lambda e: (e.stream_id, e.version)):
        streams.setdefault(envelope.stream_id, []).append(envelope)
    return streams


def account_balances(events: Iterable[EventEnvelope]) -> dict[str, AccountFold]:
    """``balances.accounts`` as the fold of every Account stream."""
    folded: dict[str, AccountFold] = {}
    for stream_id, stream in by_stream(events).items():
        if stream[0].aggregate_type != "Account":
            continue
        if [e.version for e in stream] != list(range(1, len(stream) + 1)):
            msg = f"stream {stream_id} has gaps: {[e.version for e in stream]}"
            raise AssertionError(msg)
        row: dict[str, Any] = {}
        for envelope in stream:
            payload = envelope.payload
            if envelope.event_type == "AccountOpened":
                row = {
                    "owner": payload["owner"],
                    "currency": payload["currency"],
                    "balance": Decimal("0.00"),
                    "status": "open",
                }
            elif envelope.event_type == "MoneyDeposited":
                row["balance"] += Decimal(str(payload["amount"]))
            elif envelope.event_type == "MoneyWithdrawn":
                row["balance"] -= Decimal(str(payload["amount"]))
            elif envelope.event_type == "AccountClosed":
                row["status"] = "closed"
            row["version"] = envelope.version
            row["updated_at"] = format_timestamp(envelope.occurred_at)
        folded[stream_id] = AccountFold(account_id=stream_id, **row)
    return folded


def account_transactions(events: Iterable[EventEnvelope]) -> dict[str, list[dict[str, Any]]]:
    """Each account's deposits and withdrawals, oldest first, with the balance after each (the
    contract's ``GET /accounts/{id}/transactions`` items)."""
    history: dict[str, list[dict[str, Any]]] = {}
    for stream_id, stream in by_stream(events).items():
        balance = Decimal("0.00")
        items: list[dict[str, Any]] = []
        for envelope in stream:
            kind = _MOVEMENTS.get(envelope.event_type)
            if kind is None:
                continue
            amount = Decimal(str(envelope.payload["amount"]))
            balance += amount if kind == "deposit" else -amount
            items.append(
                {
                    "event_id": str(envelope.event_id),
                    "type": kind,
                    "amount": f"{amount:.2f}",
                    "balance_after": f"{balance:.2f}",
                    "reference": envelope.payload.get("reference"),
                    "occurred_at": format_timestamp(envelope.occurred_at),
                    "version": envelope.version,
                }
            )
        if stream and stream[0].aggregate_type == "Account":
            history[stream_id] = items
    return history


_MOVEMENTS: Mapping[str, str] = {"MoneyDeposited": "deposit", "MoneyWithdrawn": "withdrawal"}
