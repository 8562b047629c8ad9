"""Tables a benchmark prints: plain rows, rendered as Markdown so a run pastes into the docs."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *row: Any) -> None:
        if len(row) != len(self.columns):
            raise ValueError(
                f"{self.title}: row {row!r} has {len(row)} cells, not {len(self.columns)}"
            )
        self.rows.append(row)

    def render(self) -> str:
        cells = [[_cell(value) for value in row] for row in self.rows]
        widths = [
            max([len(column)] + [len(row[index]) for row in cells])
            for index, column in enumerate(self.columns)
        ]
        lines = [f"### {self.title}", ""]
        lines.append(
            "| " + " | ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)) + " |"
        )
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in cells:
            lines.append(
                "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
            )
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def machine_line() -> str:
    """Where and when the figures were taken: they mean little without it."""
    return (
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs "
        f"({platform.machine()}, {platform.processor() or 'unknown processor'}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...`` then ``elapsed()`` gives the seconds taken."""
    started = time.perf_counter()
    ended: list[float] = []
    yield lambda: (ended[0] if ended else time.perf_counter()) - started
    ended.append(time.perf_counter())
