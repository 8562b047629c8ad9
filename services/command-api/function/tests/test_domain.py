"""The Account's rules, with no I/O: every contract rule has a test here."""

from __future__ import annotations

from decimal import Decimal

import pytest
from command_api.domain import (
    Account,
    AccountAlreadyClosed,
    AccountAlreadyExists,
    AccountNotEmpty,
    AccountNotFound,
    AccountStatus,
    CloseAccount,
    Deposit,
    InsufficientFunds,
    InvalidValue,
    OpenAccount,
    Withdraw,
    decide,
    evolve,
    fold,
)

from account_events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn

ID = "6f1c3b0e-2a4d-4c1e-9b7a-3d2f1e0c9b8a"


def opened(balance: str = "0.00") -> Account:
    events = [AccountOpened(owner="Ada", currency="EUR")]
    if Decimal(balance):
        events.append(MoneyDeposited(amount=Decimal(balance)))
    return fold(ID, events)


def closed() -> Account:
    return fold(ID, [AccountOpened(owner="Ada", currency="EUR"), AccountClosed()])


# ---------------------------------------------------------------------- evolve / fold
def test_a_stream_without_events_is_a_new_account_at_version_0() -> None:
    state = fold(ID, [])
    assert state == Account(ID)
    assert not state.exists
    assert state.version == 0


def test_folding_the_history_counts_versions_and_the_balance() -> None:
    state = fold(
        ID,
        [
            AccountOpened(owner="Ada", currency="EUR"),
            MoneyDeposited(amount=Decimal("100.00")),
            MoneyWithdrawn(amount=Decimal("30.25"), reference="rent"),
            MoneyDeposited(amount=Decimal("0.50")),
        ],
    )
    assert state.version == 4
    assert state.status is AccountStatus.OPEN
    assert (state.owner, state.currency) == ("Ada", "EUR")
    assert state.balance == Decimal("70.25")


def test_closing_is_recorded_in_the_state() -> None:
    assert evolve(opened(), AccountClosed()).status is AccountStatus.CLOSED


# ---------------------------------------------------------------------- open
def test_open_records_account_opened_with_the_trimmed_owner() -> None:
    command = OpenAccount(ID, "  Ada Lovelace \t", "EUR")
    assert decide(Account(ID), command) == [AccountOpened(owner="Ada Lovelace", currency="EUR")]


def test_an_existing_account_cannot_be_opened_again() -> None:
    with pytest.raises(AccountAlreadyExists):
        decide(opened(), OpenAccount(ID, "Ada", "EUR"))


@pytest.mark.parametrize("owner", ["", "   ", "\t\n", " " * 300])
def test_owner_must_not_be_blank(owner: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        OpenAccount(ID, owner, "EUR")
    assert raised.value.field == "owner"


def test_owner_may_have_200_characters_after_trimming_but_not_201() -> None:
    assert OpenAccount(ID, "  " + "a" * 200 + "  ", "EUR").owner == "a" * 200
    with pytest.raises(InvalidValue):
        OpenAccount(ID, "a" * 201, "EUR")


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "E1R", "ÉUR", "EUR\n", " EUR", ""])
def test_currency_must_be_three_upper_case_letters(currency: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        OpenAccount(ID, "Ada", currency)
    assert raised.value.field == "currency"


@pytest.mark.parametrize("currency", ["EUR", "USD", "JPY", "CHF"])
def test_iso_codes_are_accepted(currency: str) -> None:
    assert OpenAccount(ID, "Ada", currency).currency == currency


# ---------------------------------------------------------------------- amounts
@pytest.mark.parametrize(
    "amount",
    ["0", "0.00", "-1", "-0.01", "0.001", "12.345", "1000000000000.01", "1e13", "NaN", "Infinity"],
)
def test_amounts_must_be_positive_at_most_1e12_with_two_decimals(amount: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        Deposit(ID, Decimal(amount))
    assert raised.value.field == "amount"


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        ("0.01", "0.01"),
        ("12.5", "12.50"),
        ("7", "7.00"),
        ("1000000000000", "1000000000000.00"),
        ("12.500", "12.50"),
        ("1E+2", "100.00"),
    ],
)
def test_valid_amounts_are_kept_exactly_with_two_places(amount: str, stored: str) -> None:
    command = Withdraw(ID, Decimal(amount))
    assert str(command.amount) == stored


def test_an_absurd_exponent_is_refused_not_crashed_on() -> None:
    with pytest.raises(InvalidValue):
        Deposit(ID, Decimal("1E+999999999"))
    with pytest.raises(InvalidValue):
        Deposit(ID, Decimal("1E-999999999"))


@pytest.mark.parametrize("owner", ["Ada\x00", "A\x07da", "Ada\x7f", "Ada\nLovelace"])
def test_owner_must_not_contain_control_characters(owner: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        OpenAccount(ID, owner, "EUR")
    assert raised.value.field == "owner"


def test_a_reference_may_hold_whitespace_but_no_other_control_character() -> None:
    assert Deposit(ID, Decimal(1), "line 1\nline 2\ttab").reference == "line 1\nline 2\ttab"
    for bad in ("\x00", "rent\x1b", "\x7f"):
        with pytest.raises(InvalidValue) as raised:
            Deposit(ID, Decimal(1), bad)
        assert raised.value.field == "reference"


def test_a_reference_is_limited_in_length() -> None:
    assert Deposit(ID, Decimal(1), "r" * 255).reference == "r" * 255
    with pytest.raises(InvalidValue) as raised:
        Deposit(ID, Decimal(1), "r" * 256)
    assert raised.value.field == "reference"


# ---------------------------------------------------------------------- deposit
def test_deposit_records_money_deposited() -> None:
    events = decide(opened(), Deposit(ID, Decimal("12.50"), "salary"))
    assert events == [MoneyDeposited(amount=Decimal("12.50"), reference="salary")]


def test_deposit_to_an_unknown_account_is_refused() -> None:
    with pytest.raises(AccountNotFound):
        decide(Account(ID), Deposit(ID, Decimal(1)))


def test_a_closed_account_takes_no_deposit() -> None:
    with pytest.raises(AccountAlreadyClosed):
        decide(closed(), Deposit(ID, Decimal(1)))


# ---------------------------------------------------------------------- withdraw
def test_withdraw_records_money_withdrawn() -> None:
    events = decide(opened("10.00"), Withdraw(ID, Decimal("4.00")))
    assert events == [MoneyWithdrawn(amount=Decimal("4.00"))]


def test_the_whole_balance_may_be_withdrawn() -> None:
    assert decide(opened("10.00"), Withdraw(ID, Decimal("10.00")))


def test_no_overdraft() -> None:
    with pytest.raises(InsufficientFunds) as raised:
        decide(opened("10.00"), Withdraw(ID, Decimal("10.01")))
    assert raised.value.balance == Decimal("10.00")
    assert raised.value.requested == Decimal("10.01")


def test_withdraw_from_an_unknown_account_is_refused() -> None:
    with pytest.raises(AccountNotFound):
        decide(Account(ID), Withdraw(ID, Decimal(1)))


def test_a_closed_account_pays_out_nothing() -> None:
    with pytest.raises(AccountAlreadyClosed):
        decide(closed(), Withdraw(ID, Decimal(1)))


# ---------------------------------------------------------------------- close
def test_an_empty_account_closes() -> None:
    assert decide(opened(), CloseAccount(ID)) == [AccountClosed()]


def test_an_account_emptied_by_withdrawals_closes() -> None:
    state = evolve(opened("5.00"), MoneyWithdrawn(amount=Decimal("5.00")))
    assert decide(state, CloseAccount(ID)) == [AccountClosed()]


def test_an_account_with_money_does_not_close() -> None:
    with pytest.raises(AccountNotEmpty) as raised:
        decide(opened("0.01"), CloseAccount(ID))
    assert raised.value.balance == Decimal("0.01")


def test_closing_twice_is_refused() -> None:
    with pytest.raises(AccountAlreadyClosed):
        decide(closed(), CloseAccount(ID))


def test_closing_an_unknown_account_is_refused() -> None:
    with pytest.raises(AccountNotFound):
        decide(Account(ID), CloseAccount(ID))
