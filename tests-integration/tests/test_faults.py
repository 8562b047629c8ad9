"""Faults along the path: whatever the pipe does to a message (refused by the bus, redelivered
after a crash, duplicated, lost), every event reaches the read model once and the read model is
the fold of the event store."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests_integration.invariants import assert_exact
from tests_integration.system import Handler, Queue, System

from platform_events import EventEnvelope, decode_message_body, sns_batch_entry


def relay_only(system: System) -> None:
    """Run the relay until the stream has nothing new, leaving the queues alone."""
    while system.relay_poller.poll_once():
        pass


# --------------------------------------------------------------------------- the bus refuses
class RefusingSns:
    """An SNS client whose ``PublishBatch`` refuses the entries ``refuse`` picks, once each,
    answering them in ``Failed`` as SNS does entry by entry (throttling, an internal error)."""

    def __init__(self, client: Any, refuse: Callable[[dict[str, Any]], bool]) -> None:
        self._client = client
        self._refuse = refuse
        self.refused: list[str] = []

    def publish_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["PublishBatchRequestEntries"]
        refused = [
            e
            for e in entries
            if e["MessageDeduplicationId"] not in self.refused and self._refuse(e)
        ]
        self.refused.extend(e["MessageDeduplicationId"] for e in refused)
        sent = [e for e in entries if e not in refused]
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        if sent:
            answer = self._client.publish_batch(**{**request, "PublishBatchRequestEntries": sent})
        failed = [
            {"Id": e["Id"], "Code": "InternalError", "Message": "injected", "SenderFault": False}
            for e in refused
        ]
        return {**answer, "Failed": [*answer.get("Failed", []), *failed]}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_an_event_the_bus_refused_is_published_again_and_applied_once(make_system) -> None:
    target: dict[str, Any] = {}

    def second_event_of_the_target(entry: dict[str, Any]) -> bool:
        envelope = json.loads(entry["Message"])
        return bool(envelope["stream_id"] == target.get("account") and envelope["version"] == 2)

    refusing: list[RefusingSns] = []

    def wrap(client: Any) -> Any:
        refusing.append(RefusingSns(client, second_event_of_the_target))
        return refusing[0]

    system = make_system(relay_sns=wrap)
    account = system.commands.open("Ann").body["account_id"]
    target["account"] = account
    other = system.commands.open("Bob").body["account_id"]
    for amount in ("10.00", "20.00"):
        assert system.commands.deposit(account, amount).status == 201
    assert system.commands.deposit(other, "1.00").status == 201

    system.settle()

    second = next(e for e in system.stored_events() if e.key == (account, 2))
    assert refusing[0].refused == [str(second.event_id)]
    # Lambda redelivered from the refused record on (the relay's partial batch response).
    assert system.relay_poller.stats.failed_records > 0
    answer = system.queries.account(account)
    assert (answer.body["balance"], answer.body["version"]) == ("30.00", 3)
    assert_exact(system)


# --------------------------------------------------------------------------- redelivery
def test_a_batch_redelivered_after_its_commit_applies_nothing_twice(make_system) -> None:
    crashed: list[int] = []

    def crash_once_after_commit(handler: Handler) -> Handler:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            response = handler(event, context)
            if not crashed:
                crashed.append(len(event["Records"]))
                # The batch committed, then the invocation failed (a timeout, the runtime died):
                # Lambda returns every message of the batch to the queue.
                raise TimeoutError("the invocation timed out after its commit")
            return response

        return invoke

    system = make_system(handler_wrappers={"balances": crash_once_after_commit})
    account = system.commands.open("Ann").body["account_id"]
    for amount in ("10.00", "0.01", "7.50"):
        assert system.commands.deposit(account, amount).status == 201

    system.settle()

    deployed = system.projections["balances"]
    assert len(crashed) == 1
    assert deployed.live_poller.stats.handler_errors == 1
    assert deployed.totals["EventsSkipped"] == crashed[0]
    assert system.queries.account(account).body["balance"] == "17.51"
    assert_exact(system)


def test_an_event_published_twice_beyond_the_deduplication_window_applies_once(system) -> None:
    account = system.commands.open("Ann").body["account_id"]
    assert system.commands.deposit(account, "10.00").status == 201
    system.settle()

    # What the bus delivers when the relay publishes an event again more than five minutes after
    # the first time (FIFO deduplication no longer applies): the same envelope, a new message.
    deposit = next(e for e in system.stored_events() if e.key == (account, 2))
    entry = {**sns_batch_entry(deposit, "0"), "MessageDeduplicationId": "published-again"}
    answer = system.sns.publish_batch(TopicArn=system.topic_arn, PublishBatchRequestEntries=[entry])
    assert answer["Successful"]
    system.settle()

    assert system.projections["balances"].totals["EventsSkipped"] == 1
    assert system.queries.account(account).body["balance"] == "10.00"
    assert_exact(system)


# --------------------------------------------------------------------------- a lost delivery
def drop(system: System, queue: Queue, lost: Callable[[EventEnvelope], bool]) -> list[str]:
    """Delete the messages ``lost`` picks before any consumer sees them; the others go back.
    Returns the dropped event ids."""
    received: list[dict[str, Any]] = []
    while True:
        page = system.sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
        ).get("Messages", [])
        if not page:
            break
        received.extend(page)
    dropped = []
    for message in received:
        envelope = decode_message_body(message["Body"])
        if lost(envelope):
            system.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
            dropped.append(str(envelope.event_id))
        else:
            system.sqs.change_message_visibility(
                QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    return dropped


def test_a_lost_delivery_is_repaired_from_the_event_store_by_the_streams_next_event(
    system,
) -> None:
    account = system.commands.open("Ann").body["account_id"]
    assert system.commands.deposit(account, "10.00").status == 201
    other = system.commands.open("Bob").body["account_id"]
    relay_only(system)

    deployed = system.projections["balances"]
    dropped = drop(system, deployed.live, lambda e: e.key == (account, 2))
    assert len(dropped) == 1
    system.settle()

    # Nothing told the projection about the lost deposit yet.
    lagging = system.queries.account(account).body
    assert (lagging["balance"], lagging["version"]) == ("0.00", 1)
    assert system.queries.account(other).body["version"] == 1

    assert system.commands.withdraw(account, "2.50").status == 201
    system.settle()

    repaired = system.queries.account(account).body
    assert (Decimal(repaired["balance"]), repaired["version"]) == (Decimal("7.50"), 3)
    assert deployed.totals["EventsRepaired"] == 1
    assert_exact(system)
