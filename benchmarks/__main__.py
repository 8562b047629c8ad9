"""``python -m benchmarks [NAME ...] [--smoke] [--markdown FILE]``: run benchmarks, print tables."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from benchmarks.report import Table, machine_line

# Each name is a module of this package with ``run(smoke: bool) -> Iterable[Table]``.
BENCHMARKS: dict[str, str] = {
    "projection": "benchmarks.projection_throughput",
    "replay": "benchmarks.replay_throughput",
    "cold-start": "benchmarks.cold_start",
    "package-size": "benchmarks.package_size",
    "latency": "benchmarks.latency",
}


class Benchmark(Protocol):
    def run(self, smoke: bool) -> Iterable[Table]: ...


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        choices=[[], *BENCHMARKS],
        metavar="NAME",
        help=f"which to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the scripts run")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    arguments = parser.parse_args(argv)
    names = arguments.names or list(BENCHMARKS)

    header = machine_line() + (" (smoke sizes: not figures)" if arguments.smoke else "")
    print(header, flush=True)
    rendered = [header, ""]
    for name in names:
        module: Benchmark = importlib.import_module(BENCHMARKS[name])
        for table in module.run(arguments.smoke):
            text = table.render()
            print("\n" + text, flush=True)
            rendered.append(text)
    if arguments.markdown:
        arguments.markdown.write_text("\n".join(rendered))
    return 0


if __name__ == "__main__":
    sys.exit(main())
