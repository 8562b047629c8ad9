"""What a client asks the Account to do. A command that exists is well formed: its values were
checked on construction, so ``decide`` only has to consult the account's state."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from command_api.domain import values


@dataclass(frozen=True, slots=True)
class OpenAccount:
    account_id: str
    owner: str
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "owner", values.owner(self.owner))
        object.__setattr__(self, "currency", values.currency(self.currency))


@dataclass(frozen=True, slots=True)
class Deposit:
    account_id: str
    amount: Decimal
    reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", values.amount(self.amount))
        object.__setattr__(self, "reference", values.reference(self.reference))


@dataclass(frozen=True, slots=True)
class Withdraw:
    account_id: str
    amount: Decimal
    reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", values.amount(self.amount))
        object.__setattr__(self, "reference", values.reference(self.reference))


@dataclass(frozen=True, slots=True)
class CloseAccount:
    account_id: str


Command = OpenAccount | Deposit | Withdraw | CloseAccount
