"""The API's routes, written once: the function registers them, the stack creates them in API
Gateway, so the two cannot disagree about what exists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Route:
    operation_id: str
    path: str
    """As OpenAPI and API Gateway write it: ``/accounts/{account_id}``."""
    method: str = "GET"

    @property
    def route_key(self) -> str:
        """API Gateway's route key: ``GET /accounts/{account_id}``."""
        return f"{self.method} {self.path}"

    @property
    def resolver_rule(self) -> str:
        """Powertools' rule: ``/accounts/<account_id>``."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    @property
    def source_arn_suffix(self) -> str:
        """The route as a Lambda permission's source ARN names it: ``GET/accounts/*``."""
        return self.method + re.sub(r"\{\w+\}", "*", self.path)


LIST_ACCOUNTS: Final = Route("listAccounts", "/accounts")
GET_ACCOUNT: Final = Route("getAccount", "/accounts/{account_id}")
LIST_ACCOUNT_TRANSACTIONS: Final = Route(
    "listAccountTransactions", "/accounts/{account_id}/transactions"
)
ROUTES: Final = (LIST_ACCOUNTS, GET_ACCOUNT, LIST_ACCOUNT_TRANSACTIONS)
