"""``platform-local``: run the whole system on this machine, show its status, replay projections.

uv run platform-local                       # serve on http://127.0.0.1:8000
uv run platform-local status                # projections, positions, lag, queue depths
uv run platform-local replay balances       # rebuild a projection, with progress
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, TextIO

DEFAULT_URL: Final = "http://127.0.0.1:8000"
COMMANDS: Final = ("serve", "status", "replay")
BAR_WIDTH: Final = 30
MAX_PROGRESS_INTERVAL: Final = 2.0
PROGRESS_BACKOFF: Final = 1.5


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in (*COMMANDS, "-h", "--help"):
        args.insert(0, "serve")  # `platform-local --port 9000` serves
    options = parser().parse_args(args)
    result: int = options.run(options)
    return result


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="platform-local",
        description="The whole CQRS platform on this machine: both HTTP APIs, the relay, the "
        "projections and replay, on emulated AWS. Without a command, serves.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the system (the default command)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (%(default)s)")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".local"),
        help="where the event store journal and SQLite read models live (%(default)s)",
    )
    serve.add_argument(
        "--database-url",
        help="put the read models in this Postgres instead of SQLite "
        "(postgresql+psycopg://user@host:5432/db)",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="one line per request and batch at INFO (%(default)s)",
    )
    serve.set_defaults(run=serve_command)

    status = commands.add_parser("status", help="show projections, positions, lag, queues")
    status.add_argument("--url", default=DEFAULT_URL, help="the running server (%(default)s)")
    status.add_argument("--json", action="store_true", help="print the raw JSON document")
    status.set_defaults(run=status_command)

    replay = commands.add_parser(
        "replay", help="rebuild one projection from the event store, with progress"
    )
    replay.add_argument("name", help="projection name: balances or transactions")
    replay.add_argument("--url", default=DEFAULT_URL, help="the running server (%(default)s)")
    replay.add_argument(
        "--interval",
        type=float,
        default=0.5,
        help="seconds before the first progress read (%(default)s); later reads back off to "
        f"{MAX_PROGRESS_INTERVAL:g} s",
    )
    replay.set_defaults(run=replay_command)
    return root


# ---------------------------------------------------------------------- serve
def serve_command(options: argparse.Namespace) -> int:
    logging.basicConfig(
        level=options.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # Libraries speak up only when something is wrong.
    for noisy in ("botocore", "boto3", "urllib3", "moto", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from platform_local.system import LocalSettings, LocalSystem  # noqa: PLC0415 - slow imports

    system = LocalSystem(
        LocalSettings(
            host=options.host,
            port=options.port,
            data_dir=options.data_dir,
            database_url=options.database_url,
        )
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger("platform_local").info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    system.start()
    try:
        stop.wait()
    finally:
        system.stop()
    return 0


# ---------------------------------------------------------------------- client commands
def _call(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)  # noqa: S310 - the user's own server
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def status_command(options: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        document = _call(f"{options.url}/_local/status")
    except (urllib.error.URLError, OSError) as error:
        print(f"platform-local is not answering at {options.url}: {error}", file=sys.stderr)
        return 2
    if options.json:
        print(json.dumps(document, indent=2), file=out)
        return 0
    print(f"events in store: {document['events_in_store']}", file=out)
    header = (
        "projection",
        "gen",
        "live",
        "position",
        "streams",
        "lag",
        "live q",
        "replay q",
        "dlq",
    )
    rows = [header]
    for p in document["projections"]:
        queues = p["queues"]
        rows.append(
            (
                p["name"],
                str(p["generation"]),
                "on" if p["live_enabled"] else "paused",
                str(p["position"]),
                str(p["streams"]),
                str(p["lag_events"]),
                _depth(queues["live"]),
                _depth(queues["replay"]),
                str(queues["live_dlq"]["visible"] + queues["replay_dlq"]["visible"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)), file=out
        )
    return 0


def _depth(queue: dict[str, int]) -> str:
    return f"{queue['visible']}+{queue['in_flight']}"


def replay_command(options: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        started = _call(f"{options.url}/_local/projections/{options.name}/replay", "POST")
    except urllib.error.HTTPError as error:
        print(f"cannot replay {options.name!r}: {error.read().decode()}", file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError) as error:
        print(f"platform-local is not answering at {options.url}: {error}", file=sys.stderr)
        return 2
    arn = started["execution_arn"]
    query = urllib.parse.urlencode({"execution_arn": arn})
    interval = options.interval
    while True:
        progress = _call(f"{options.url}/_local/replays?{query}")
        _render(progress, out)
        if progress["finished"]:
            print(file=out)
            if progress["succeeded"] and progress["live_mapping_state"] == "Enabled":
                print(
                    f"{options.name}: rebuilt from {progress['events_sent']} events, live", file=out
                )
                return 0
            print(f"{options.name}: replay failed: {progress['error']}", file=sys.stderr)
            return 1
        time.sleep(interval)
        # Each read walks the execution's history, which the emulator rebuilds whole every time:
        # a long replay is read less often, so reading never competes with the replay itself.
        interval = min(interval * PROGRESS_BACKOFF, max(MAX_PROGRESS_INTERVAL, options.interval))


def _render(progress: dict[str, Any], out: TextIO) -> None:
    total = progress["partitions_total"] or 1
    done = int(BAR_WIDTH * progress["partitions_done"] / total)
    bar = "#" * done + "-" * (BAR_WIDTH - done)
    line = f"\r[{bar}] {progress['events_sent']} events sent, phase {progress['phase']}"
    out.write(line.ljust(80))
    out.flush()


if __name__ == "__main__":
    raise SystemExit(main())
