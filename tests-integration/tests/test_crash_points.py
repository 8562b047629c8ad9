"""Crash points: each hop dies at its most awkward moment -- after its side effect, before
anyone heard of it -- and the retries that follow leave the event store and every read model
consistent, nothing lost or doubled. Faults are injected where our code meets AWS and Postgres
(``tests_integration.faults``); everything on either side of them is the real code."""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from platform_projections.lambda_handler import BATCHES_FAILED
from platform_projections.messages import MessageKind, read_messages
from platform_replay import ProgressReader, start_replay
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from tests_integration.apis import Answer, CommandApi
from tests_integration.faults import (
    CrashAfter,
    InvocationFailed,
    InvocationKilled,
    TcpProxy,
    commit_acknowledgement_lost,
)
from tests_integration.invariants import assert_exact, assert_read_models_are_the_fold
from tests_integration.system import (
    BALANCES,
    MAX_RECEIVE_COUNT,
    TRANSACTIONS,
    Handler,
    Queue,
    System,
)
from tests_integration.workload import write_history

from platform_events import EventEnvelope, decode_message_body

IDEMPOTENCY_KEY = "Idempotency-Key"
IF_MATCH = "If-Match"
REPLAYED = "Idempotent-Replayed"
RETRY_AFTER = "Retry-After"
REPLAY_TIMEOUT_SECONDS = 60.0


def relay_only(system: System) -> None:
    """Run the relay until the stream has nothing new, leaving the queues alone."""
    while system.relay_poller.poll_once():
        pass


def events_of(system: System, account: str) -> list[EventEnvelope]:
    return [e for e in system.stored_events() if e.stream_id == account]


def drop(system: System, queue: Queue, lost: Callable[[EventEnvelope], bool]) -> int:
    """Delete the messages ``lost`` picks before any consumer sees them (a lost delivery); the
    others become visible again at once. Returns how many were dropped."""
    received: list[dict[str, Any]] = []
    while page := system.sqs.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
    ).get("Messages", []):
        received.extend(page)
    dropped = 0
    for message in received:
        handle = message["ReceiptHandle"]
        if lost(decode_message_body(message["Body"])):
            system.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=handle)
            dropped += 1
        else:
            system.sqs.change_message_visibility(
                QueueUrl=queue.url, ReceiptHandle=handle, VisibilityTimeout=0
            )
    return dropped


@contextlib.contextmanager
def store_reads_throttled(system: System) -> Iterator[list[str]]:
    """For the block, the event store refuses every ``Query`` of a DynamoDB client created in
    it (as a projection's composition root does on its first invocation) with the throttling
    error DynamoDB answers; yields the stream ids of the refused reads."""
    refused: list[str] = []
    armed = [True]

    def throttle(params: dict[str, Any], **_: Any) -> None:
        if not armed[0]:
            return  # clients copy the session's handlers when they are made: disarm, not remove
        values = params.get("ExpressionAttributeValues", {})
        refused.extend(str(v["S"]) for v in values.values() if isinstance(v, dict) and "S" in v)
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
        raise ClientError(error, "Query")  # type: ignore[arg-type]

    event = "before-parameter-build.dynamodb.Query"
    system.session.events.register(event, throttle, unique_id="crash-points-throttle")
    try:
        yield refused
    finally:
        armed[0] = False
        system.session.events.unregister(event, unique_id="crash-points-throttle")


# --------------------------------------------------------------------------- the command handler
DEATHS = {
    # Lambda stopped it: API Gateway answers the client itself; the function answers nothing.
    "killed": lambda: InvocationKilled("the invocation timed out after the write"),
    # An error escaped after the write: the function's catch-all answers 500.
    "failed": lambda: InvocationFailed("the invocation failed after the write"),
}


def crashing_command_api(system: System, death: str, times: int) -> tuple[CommandApi, CrashAfter]:
    """A command API container whose first ``times`` appends commit and then die."""
    dynamodb = CrashAfter(
        system.session.client("dynamodb"), "transact_write_items", DEATHS[death], times=times
    )
    return system.command_api(dynamodb), dynamodb


def send_and_die(death: str, send: Callable[[], Answer]) -> None:
    """Send a command on a container that dies after its write; the client hears no answer."""
    if death == "killed":
        # In Lambda nothing runs after the kill; in-process, powertools' metrics decorator still
        # flushes on the way out and warns that the dead invocation recorded no metric.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
            with pytest.raises(InvocationKilled):
                send()
    else:
        answer = send()
        assert (answer.status, answer.code) == (500, "internal_error")


@pytest.mark.parametrize("death", sorted(DEATHS))
def test_a_command_that_died_after_its_write_answers_its_retry_with_the_same_key_once(
    system: System, death: str
) -> None:
    dying, store = crashing_command_api(system, death, times=2)
    open_key = {IDEMPOTENCY_KEY: f"open-{death}"}
    deposit_key = {IDEMPOTENCY_KEY: f"deposit-{death}"}

    send_and_die(death, lambda: dying.open("Ann", headers=open_key))
    (opened,) = system.stored_events()
    account = opened.stream_id
    send_and_die(death, lambda: dying.deposit(account, "10.00", headers=deposit_key))
    assert len(store.crashed) == 2

    # The client retries on another container with the same key: the first attempt's answer.
    retried_open = system.commands.open("Ann", headers=open_key)
    assert retried_open.status == 201
    assert retried_open.header(REPLAYED) == "true"
    assert retried_open.body["account_id"] == account
    assert retried_open.header("Location") == f"/accounts/{account}"
    assert retried_open.body["events"][0]["event_id"] == str(opened.event_id)
    retried = [system.commands.deposit(account, "10.00", headers=deposit_key) for _ in range(2)]
    deposited = events_of(system, account)[1]
    for answer in retried:
        assert (answer.status, answer.header(REPLAYED)) == (201, "true")
        assert answer.body == retried[0].body
        assert answer.body["version"] == 2
        assert answer.body["events"][0]["event_id"] == str(deposited.event_id)
    # The key still belongs to the request that died: another body is refused, not recorded.
    reused = system.commands.deposit(account, "99.00", headers=deposit_key)
    assert (reused.status, reused.code) == (422, "idempotency_key_reused")

    assert [e.version for e in system.stored_events()] == [1, 2]
    system.settle()
    assert system.queries.account(account).body["balance"] == "10.00"
    assert_exact(system)


def test_a_retry_without_the_key_meets_the_new_state_and_records_nothing_twice(
    system: System,
) -> None:
    account = system.commands.open("Ann").body["account_id"]
    assert system.commands.deposit(account, "10.00").status == 201
    dying, store = crashing_command_api(system, "killed", times=3)

    # A conditional deposit died after its write; its retries carry the version the client saw.
    seen = {IF_MATCH: '"2"'}
    send_and_die("killed", lambda: dying.deposit(account, "5.00", headers=seen))
    for headers in (seen, {**seen, IDEMPOTENCY_KEY: "a-new-key"}):
        retried = system.commands.deposit(account, "5.00", headers=headers)
        assert (retried.status, retried.code) == (412, "version_mismatch")

    # Unconditional commands meet the state the dead attempt left: the rules refuse them again.
    send_and_die("killed", lambda: dying.withdraw(account, "15.00"))
    retried = system.commands.withdraw(account, "15.00")
    assert (retried.status, retried.code) == (409, "insufficient_funds")
    send_and_die("killed", lambda: dying.close(account))
    retried = system.commands.close(account)
    assert (retried.status, retried.code) == (409, "account_closed")
    assert len(store.crashed) == 3

    stored = system.stored_events()
    assert [(e.version, e.event_type) for e in stored] == [
        (1, "AccountOpened"),
        (2, "MoneyDeposited"),
        (3, "MoneyDeposited"),
        (4, "MoneyWithdrawn"),
        (5, "AccountClosed"),
    ]
    system.settle()
    answer = system.queries.account(account).body
    assert (answer["balance"], answer["status"], answer["version"]) == ("0.00", "closed", 5)
    assert_exact(system)


# --------------------------------------------------------------------------- the relay
def test_a_relay_that_died_after_publishing_half_a_batch_publishes_it_again_and_applies_once(
    make_system: Callable[..., System],
) -> None:
    publishers: list[CrashAfter] = []

    def die_after_the_first_publish(client: Any) -> Any:
        publishers.append(
            CrashAfter(
                client,
                "publish_batch",
                lambda: InvocationFailed("the relay timed out after its first PublishBatch"),
            )
        )
        return publishers[0]

    system = make_system(relay_sns=die_after_the_first_publish)
    accounts = [system.commands.open(owner).body["account_id"] for owner in ("A", "B", "C", "D")]
    for amount in ("1.00", "2.00", "3.00"):
        for account in accounts:
            assert system.commands.deposit(account, amount).status == 201

    system.settle()

    # One stream batch of 16 events: the first PublishBatch (10 entries) went out, then the
    # invocation died; Lambda retried the whole batch from its first record.
    (crash,) = publishers[0].crashed
    assert len(crash["answer"]["Successful"]) == 10
    assert system.relay_poller.stats.handler_errors == 1
    assert system.relay_failures == []
    events = assert_exact(system)
    assert len(events) == 16
    published_twice = [
        json.loads(entry["Message"])["event_type"]
        for entry in crash["request"]["PublishBatchRequestEntries"]
    ]
    for deployed in system.projections.values():
        # On AWS the FIFO topic drops the ten re-sent entries (deduplication id = event id);
        # moto's PublishBatch ignores that id, so here they reach the queues again and the
        # projections' positions skip them: the last line of defence, proven.
        handled = [t for t in published_twice if deployed.service.projection.handles(t)]
        assert handled
        assert deployed.totals["EventsSkipped"] == len(handled)


# --------------------------------------------------------------------------- a projection
def test_a_projection_whose_commit_was_not_acknowledged_retries_and_applies_nothing_twice(
    system: System,
) -> None:
    account = system.commands.open("Ann").body["account_id"]
    for amount in ("10.00", "0.01", "7.50"):
        assert system.commands.deposit(account, amount).status == 201
    deployed = system.projections["balances"]

    with commit_acknowledgement_lost(BALANCES.projection.writer_role) as lost:
        system.settle()

    # The batch committed, the connection dropped before the answer; the projector's own retry
    # on a new connection found every event at or below its position and reported success.
    assert len(lost) == 1
    assert deployed.live_poller.stats.handler_errors == 0
    assert deployed.live_poller.stats.failed_records == 0
    # The projector cannot know that the commit it never heard of was its own: it counts the
    # four events as skipped, none as applied, and the model holds each of them once.
    assert (deployed.totals["EventsApplied"], deployed.totals["EventsSkipped"]) == (0, 4)
    assert system.queries.account(account).body["balance"] == "17.51"
    events = assert_read_models_are_the_fold(system)
    untouched = system.projections["transactions"]
    deposits = [e for e in events if untouched.service.projection.handles(e.event_type)]
    assert untouched.totals["EventsApplied"] == len(deposits)
    assert system.dead_letters() == {}


def test_a_replay_page_batch_redelivered_after_its_commit_applies_nothing_twice(
    make_system: Callable[..., System],
) -> None:
    crashed: list[int] = []

    def crash_once_after_a_replay_commit(handler: Handler) -> Handler:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            response = handler(event, context)
            messages = read_messages(event["Records"])
            pages = [m for m in messages if m.kind is MessageKind.PAGE]
            if pages and not crashed and not response["batchItemFailures"]:
                crashed.append(sum(len(m.envelopes) for m in pages))
                raise InvocationFailed("the replay batch timed out after its commit")
            return response

        return invoke

    system = make_system(
        projections=[BALANCES],
        handler_wrappers={"transactions": crash_once_after_a_replay_commit},
    )
    write_history(system, accounts=4, movements=24)
    system.settle()
    deployed = system.deploy(TRANSACTIONS, live_enabled=False)
    execution = start_replay(system.stepfunctions, deployed.state_machine_arn)
    progress = ProgressReader(
        execution,
        stepfunctions=system.stepfunctions,
        sqs=system.sqs,
        lambda_client=system.lambda_client,
    )
    with system.running():
        deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
        while not (reading := progress.read()).finished:
            assert time.monotonic() < deadline, f"replay still running: {reading.line()}"
            time.sleep(0.2)
    system.settle()

    assert reading.succeeded, reading.line()
    assert len(crashed) == 1
    assert crashed[0] > 1
    assert deployed.replay_poller.stats.handler_errors == 1
    # Every event of the crashed pages came back once more and was skipped, none applied again.
    assert deployed.totals["EventsSkipped"] == crashed[0]
    assert_exact(system)


def test_a_partly_failed_batch_redelivered_after_its_commit_applies_the_rest_once(
    make_system: Callable[..., System],
) -> None:
    answered: list[dict[str, Any]] = []

    def die_after_a_partial_answer(handler: Handler) -> Handler:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            response = handler(event, context)
            if response["batchItemFailures"] and not answered:
                answered.append({"records": len(event["Records"]), "response": response})
                raise InvocationFailed("the batch timed out after its commit")
            return response

        return invoke

    system = make_system(handler_wrappers={"balances": die_after_a_partial_answer})
    ann = system.commands.open("Ann").body["account_id"]
    assert system.commands.deposit(ann, "10.00").status == 201
    bob = system.commands.open("Bob").body["account_id"]
    for amount in ("5.00", "7.00"):
        assert system.commands.deposit(bob, amount).status == 201
    relay_only(system)
    deployed = system.projections["balances"]
    assert drop(system, deployed.live, lambda e: e.key == (bob, 2)) == 1

    # One batch: Ann's two events, Bob's v1 and v3. Bob's gap cannot be filled this time (the
    # event store throttles the projection's read), so Ann's group and Bob's v1 commit and Bob's
    # v3 is reported failed -- and then the invocation dies, so the whole batch comes back.
    with store_reads_throttled(system) as throttled:
        assert deployed.live_poller.poll_once() == 4
    assert throttled == [bob]
    (crash,) = answered
    assert crash["records"] == 4
    assert len(crash["response"]["batchItemFailures"]) == 1
    assert system.queries.account(ann).body["balance"] == "10.00"
    assert system.queries.account(bob).body["version"] == 1

    system.settle()

    # Redelivered: Ann's two and Bob's v1 skipped, Bob's v2 read from the store, v3 applied.
    assert deployed.totals["EventsSkipped"] == 3
    assert deployed.totals["EventsRepaired"] == 1
    answer = system.queries.account(bob).body
    assert (answer["balance"], answer["version"]) == ("12.00", 3)
    assert_exact(system)


# --------------------------------------------------------------------------- Postgres goes away
def test_while_postgres_refuses_connections_messages_wait_queries_answer_503_then_all_converge(
    make_system: Callable[..., System], database_url: URL
) -> None:
    proxy = TcpProxy((database_url.host or "127.0.0.1", database_url.port or 5432))
    proxy.start()
    outcomes: dict[str, list[type[BaseException] | None]] = {}

    def record_outcomes(name: str) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            def invoke(event: dict[str, Any], context: Any) -> Any:
                try:
                    response = handler(event, context)
                except Exception as error:
                    outcomes.setdefault(name, []).append(type(error))
                    raise
                outcomes.setdefault(name, []).append(None)
                return response

            return invoke

        return wrap

    try:
        system = make_system(
            functions_database_url=database_url.set(host="127.0.0.1", port=proxy.port),
            handler_wrappers={name: record_outcomes(name) for name in ("balances", "transactions")},
        )
        account = system.commands.open("Ann").body["account_id"]
        assert system.commands.deposit(account, "10.00").status == 201
        system.settle()
        assert system.queries.account(account).body["balance"] == "10.00"
        applied_before = {name: d.totals["EventsApplied"] for name, d in system.projections.items()}
        outcomes.clear()

        proxy.stop()
        # The read side is down, the write side is not.
        assert system.commands.deposit(account, "5.00").status == 201
        assert system.commands.withdraw(account, "2.50").status == 201
        for answer in (
            system.queries.account(account),
            system.queries.accounts(),
            system.queries.transactions(account),
        ):
            assert (answer.status, answer.code) == (503, "read_model_unavailable")
            assert answer.header(RETRY_AFTER)
        relay_only(system)
        rounds = 2
        for round_ in range(rounds):
            if round_:
                time.sleep(1.1)  # a failed batch becomes visible again after its delay
            for deployed in system.projections.values():
                assert deployed.live_poller.poll_once() > 0
        for deployed in system.projections.values():
            # Each batch failed as a whole, said so, and went back to its queue: nothing
            # deleted, nothing dead-lettered while receives remain.
            assert outcomes[deployed.name] == [OperationalError] * rounds
            assert deployed.totals[BATCHES_FAILED] == rounds
            assert deployed.totals["EventsApplied"] == applied_before[deployed.name]
            assert deployed.live_poller.stats.handler_errors == rounds
            # The deposit and the withdrawal: both projections handle both.
            assert system.depth(deployed.live) == 2
        assert rounds < MAX_RECEIVE_COUNT
        assert system.dead_letters() == {}

        proxy.start()
        system.settle()
        answer = system.queries.account(account).body
        assert (answer["balance"], answer["version"]) == ("12.50", 4)
        assert_exact(system)
    finally:
        proxy.stop()
