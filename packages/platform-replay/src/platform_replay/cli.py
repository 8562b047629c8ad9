"""``python -m platform_replay`` (or ``platform-replay``): start a replay and follow its progress.

    platform-replay start --state-machine-arn ARN [--name NAME] [--no-follow]
    platform-replay rebuild --state-machine-arn ARN [--name NAME] [--no-follow]
    platform-replay progress --execution-arn ARN [--follow]

``start`` is a new projection's first replay; ``rebuild`` rebuilds a running projection into a new
generation and swaps it in (blue/green) without readers ever seeing a half-built model. Neither
needs database credentials: the projector does the database's part on control messages.

AWS clients come from the standard AWS configuration (profile, region, ``AWS_ENDPOINT_URL`` for an
emulator). Following prints one line per refresh and exits 0 once the replay succeeded (the live
mapping is enabled), 1 if it stopped otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TextIO

import boto3

from platform_replay.progress import ProgressReader, ReplayProgress, start_replay

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

DEFAULT_INTERVAL_SECONDS: Final = 5.0
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1


@dataclass(frozen=True)
class ReplayClients:
    """The AWS clients progress reading needs; inject emulator-backed ones in tests."""

    stepfunctions: SFNClient
    sqs: SQSClient
    lambda_client: LambdaClient

    @classmethod
    def from_environment(cls, session: boto3.Session | None = None) -> ReplayClients:
        session = session or boto3.Session()
        return cls(
            stepfunctions=session.client("stepfunctions"),
            sqs=session.client("sqs"),
            lambda_client=session.client("lambda"),
        )

    def reader(self, execution_arn: str) -> ProgressReader:
        return ProgressReader(
            execution_arn,
            stepfunctions=self.stepfunctions,
            sqs=self.sqs,
            lambda_client=self.lambda_client,
        )


def follow(
    reader: ProgressReader,
    *,
    out: TextIO,
    interval: float = DEFAULT_INTERVAL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayProgress:
    """Print a progress line per refresh until the execution ends; answers the last reading."""
    while True:
        progress = reader.read()
        print(progress.line(), file=out, flush=True)
        if progress.finished:
            return progress
        sleep(interval)


def summary(progress: ReplayProgress) -> str:
    kind = "rebuild" if progress.rebuild else "replay"
    if progress.succeeded:
        promoted = "; the new generation is active" if progress.rebuild else ""
        return (
            f"{kind} of {progress.projection} succeeded: {progress.events_sent:,} events in "
            f"{str(progress.elapsed()).split('.', 1)[0]}{promoted}; live mapping "
            f"{progress.live_mapping_state or 'enabled'}"
        )
    aftermath = (
        "the active generation still serves and live events flow again"
        if progress.rebuild
        else "the live mapping was not enabled by it"
    )
    return (
        f"{kind} of {progress.projection} {progress.status}: {progress.error or 'no error'}"
        f" ({progress.cause or 'no cause given'}); {aftermath}"
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: ReplayClients | None = None,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    clients = clients or ReplayClients.from_environment()
    if args.command in {"start", "rebuild"}:
        execution_arn = start_replay(
            clients.stepfunctions,
            args.state_machine_arn,
            name=args.name,
            rebuild=args.command == "rebuild",
        )
        print(f"started {execution_arn}", file=out, flush=True)
        if not args.follow:
            return EXIT_OK
    else:
        execution_arn = args.execution_arn
    reader = clients.reader(execution_arn)
    if args.command == "progress" and not args.follow:
        progress = reader.read()
        print(progress.line(), file=out)
        return EXIT_OK if progress.status in {"RUNNING", "SUCCEEDED"} else EXIT_FAILED
    progress = follow(reader, out=out, interval=args.interval, sleep=sleep)
    print(summary(progress), file=out)
    return EXIT_OK if progress.succeeded else EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="platform-replay", description="Start a projection replay and follow its progress."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser(
        "start", help="start a new projection's first replay (and follow it)"
    )
    rebuild = commands.add_parser(
        "rebuild",
        help="rebuild a running projection into a new generation and swap it in (and follow it)",
    )
    for command, default in ((start, "replay"), (rebuild, "rebuild")):
        command.add_argument("--state-machine-arn", required=True)
        command.add_argument("--name", help=f"execution name (default: {default}-<time>-<random>)")
        command.add_argument(
            "--no-follow", dest="follow", action="store_false", help="print the ARN and exit"
        )
    progress = commands.add_parser("progress", help="show a replay execution's progress")
    progress.add_argument("--execution-arn", required=True)
    progress.add_argument("--follow", action="store_true", help="refresh until the execution ends")
    for command in (start, rebuild, progress):
        command.add_argument(
            "--interval",
            type=float,
            default=DEFAULT_INTERVAL_SECONDS,
            help="seconds between refreshes when following (default: %(default)s)",
        )
    return parser
