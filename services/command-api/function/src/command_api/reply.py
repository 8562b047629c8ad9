"""An HTTP answer as data: what a command returns, and what an idempotency record stores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def with_headers(self, extra: Mapping[str, str]) -> Reply:
        return Reply(self.status, self.body, {**self.headers, **extra})
