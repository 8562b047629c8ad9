"""The HTTP face of the read side: routes, parameter validation, conditional GETs, problems.

Routes only turn a request into a read (``views``) and the read into a document
(``representations``). Every way a request can fail is answered as a problem here, so no client
input reaches the 500 handler: parameters are validated by powertools against the signatures
below (422), ids are checked before they reach SQL (404), cursors are verified (422).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseHeader,
)
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from query_api.cursors import MAX_CURSOR_LENGTH, CursorSigner, InvalidCursor
from query_api.observability import logger, metrics
from query_api.problems import PROBLEM_JSON, Problem, ProblemCode, ProblemError, problem_response
from query_api.representations import (
    Account,
    AccountPage,
    TransactionPage,
    account_document,
    account_etag,
    none_match,
    page_etag,
    transaction_document,
    transactions_page_etag,
)
from query_api.routes import GET_ACCOUNT, LIST_ACCOUNT_TRANSACTIONS, LIST_ACCOUNTS
from query_api.views import (
    AccountFilters,
    AccountStatus,
    AccountView,
    ReadModelMissing,
    TransactionView,
    account_known,
    find_account,
    list_accounts,
    list_transactions,
)

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

ACCOUNTS_LIST: Final = "accounts"
TRANSACTIONS_LIST: Final = "transactions"
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 100
MAX_OWNER_LENGTH: Final = 200
CACHE_CONTROL: Final = "no-cache"
"""Cache, but revalidate every time: a read model changes whenever an event is applied."""

_ACCOUNT_ID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
_ACCOUNT_PATH: Final = re.compile(r"/accounts/[^/]+(/transactions)?/?")
_UNAVAILABLE: Final[list[type[Exception]]] = [OperationalError, InterfaceError, PoolTimeout]
_PARAMETER_KINDS: Final = {"query": "query parameter", "header": "header", "path": "path parameter"}

ACCOUNT_ETAG: Final[OpenAPIResponseHeader] = {
    "description": 'The account\'s version as a strong validator, `"<version>"`: what the command'
    " API's If-Match takes.",
    "schema": {"type": "string"},
}
PAGE_ETAG: Final[OpenAPIResponseHeader] = {
    "description": 'A weak validator of the page, `W/"<hash>"`, over its ids, versions and next'
    " cursor.",
    "schema": {"type": "string"},
}


def _problem(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {PROBLEM_JSON: {"model": Problem}}}


def _found(
    description: str, model: type[BaseModel], etag: OpenAPIResponseHeader
) -> OpenAPIResponse:
    return {
        "description": description,
        "headers": {"ETag": etag},
        "content": {"application/json": {"model": model}},
    }


def _not_modified(etag: OpenAPIResponseHeader) -> OpenAPIResponse:
    return {
        "description": "Not Modified: If-None-Match matches the current ETag (no body).",
        "headers": {"ETag": etag},
        # Without a content entry powertools would document the 200 body here too.
        "content": {},
    }


INVALID: Final = _problem(
    "validation_error: a parameter is malformed or out of range (the detail names it), or the"
    " cursor was not issued for this list and these filters"
)
UNKNOWN_ACCOUNT: Final = _problem(
    "account_not_found: no such account, or not a well-formed account id"
)
UNAVAILABLE: Final = _problem("read_model_unavailable: the database did not answer; retry")

AccountId = Annotated[
    str,
    Path(
        description="The account's UUID. Anything that is not a UUID answers 404"
        " account_not_found, like an unknown id.",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(description="ETags the client holds; a match answers 304 Not Modified."),
]


class NotModified(Exception):
    """The client's copy is current; answered with 304 and the ETag."""

    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


def build_app(
    engine: Engine, cursors: CursorSigner, tracer: Tracer | None = None
) -> APIGatewayHttpResolver:
    """The query API over ``engine`` (read-only, see ``database``); built once per container.
    With a ``tracer``, every database read is an X-Ray subsegment."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def read_account(account_id: str) -> AccountView | None:
        with engine.connect() as connection:
            return find_account(connection, account_id)

    def read_accounts(filters: AccountFilters, after: str | None, limit: int) -> list[AccountView]:
        with engine.connect() as connection:
            return list_accounts(connection, filters, after=after, limit=limit)

    if tracer is not None:
        read_account = _traced(tracer, read_account)
        read_accounts = _traced(tracer, read_accounts)

    @app.get(
        GET_ACCOUNT.resolver_rule,
        summary="One account's balance and status",
        operation_id=GET_ACCOUNT.operation_id,
        tags=["accounts"],
        responses={
            200: _found("The account", Account, ACCOUNT_ETAG),
            304: _not_modified(ACCOUNT_ETAG),
            404: UNKNOWN_ACCOUNT,
            422: INVALID,
            503: UNAVAILABLE,
        },
    )
    def get_account(account_id: AccountId, if_none_match: IfNoneMatch = None) -> Response[Account]:
        view = read_account(_well_formed_id(account_id))
        if view is None:
            raise ProblemError(ProblemCode.ACCOUNT_NOT_FOUND, f"no account {account_id.lower()}")
        etag = account_etag(view)
        if none_match(if_none_match, etag):
            raise NotModified(etag)
        return Response(
            status_code=HTTPStatus.OK.value,
            content_type="application/json",
            body=account_document(view),
            headers={"ETag": etag, "Cache-Control": CACHE_CONTROL},
        )

    @app.get(
        LIST_ACCOUNTS.resolver_rule,
        summary="Accounts in account_id order, filtered by owner and/or status, paginated",
        operation_id=LIST_ACCOUNTS.operation_id,
        tags=["accounts"],
        responses={
            200: _found("A page of accounts", AccountPage, PAGE_ETAG),
            304: _not_modified(PAGE_ETAG),
            422: INVALID,
            503: UNAVAILABLE,
        },
    )
    def get_accounts(
        owner: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_OWNER_LENGTH,
                # Postgres text cannot hold NUL, so such an owner cannot exist.
                pattern=r"^[^\x00]*$",
                description="Only this owner's accounts (exact match).",
            ),
        ] = None,
        status: Annotated[
            AccountStatus | None, Query(description="Only open or only closed accounts.")
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1 to 100.")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_CURSOR_LENGTH,
                description="`next_cursor` of the previous page, with the same filters.",
            ),
        ] = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[AccountPage]:
        filters = AccountFilters(owner=owner, status=status)
        cursor_filters = {"owner": owner, "status": status}
        after = None
        if cursor is not None:
            try:
                after = cursors.position(cursor, ACCOUNTS_LIST, cursor_filters)
            except InvalidCursor as error:
                metrics.add_metric(name="CursorRejected", unit=MetricUnit.Count, value=1)
                raise ProblemError(
                    ProblemCode.VALIDATION_ERROR, f"query parameter 'cursor': {error}"
                ) from error
        # One row more than asked for tells whether another page follows, so the last page
        # says so itself instead of sending the client for an empty one.
        views = read_accounts(filters, after, limit + 1)
        page = views[:limit]
        next_cursor = (
            cursors.issue(ACCOUNTS_LIST, cursor_filters, page[-1].account_id)
            if len(views) > limit
            else None
        )
        etag = page_etag(page, next_cursor)
        if none_match(if_none_match, etag):
            raise NotModified(etag)
        return Response(
            status_code=HTTPStatus.OK.value,
            content_type="application/json",
            body=AccountPage(
                items=[account_document(view) for view in page], next_cursor=next_cursor
            ),
            headers={"ETag": etag, "Cache-Control": CACHE_CONTROL},
        )

    _add_transactions_route(app, engine, cursors, read_account, tracer)
    _register_error_handlers(app)
    return app


def _add_transactions_route(
    app: APIGatewayHttpResolver,
    engine: Engine,
    cursors: CursorSigner,
    read_account: Callable[[str], AccountView | None],
    tracer: Tracer | None,
) -> None:
    def read_transactions(
        account_id: str, after: int | None, limit: int
    ) -> tuple[bool, list[TransactionView]]:
        """Whether the account is known, and up to ``limit`` of its transactions."""
        with engine.connect() as connection:
            views = list_transactions(connection, account_id, after=after, limit=limit)
            # A page with rows proves the account; only an empty one needs the second look.
            return bool(views) or account_known(connection, account_id), views

    if tracer is not None:
        read_transactions = _traced(tracer, read_transactions)

    @app.get(
        LIST_ACCOUNT_TRANSACTIONS.resolver_rule,
        summary="An account's deposits and withdrawals, oldest first, paginated",
        description="Served by the transactions read model. An account is known when the"
        " balances read model has it or it has at least one transaction; a known account"
        " without transactions answers an empty page. Until the transactions read model is"
        " deployed, a known account answers 404 `transactions_not_available`.",
        operation_id=LIST_ACCOUNT_TRANSACTIONS.operation_id,
        tags=["accounts"],
        responses={
            200: _found("A page of the account's transactions", TransactionPage, PAGE_ETAG),
            304: _not_modified(PAGE_ETAG),
            404: _problem(
                "account_not_found: no such account, or not a well-formed account id;"
                " transactions_not_available: the transactions read model is not deployed yet"
            ),
            422: INVALID,
            503: UNAVAILABLE,
        },
    )
    def get_account_transactions(
        account_id: AccountId,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1 to 100.")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_CURSOR_LENGTH,
                description="`next_cursor` of the previous page of this account.",
            ),
        ] = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[TransactionPage]:
        account = _well_formed_id(account_id)
        # The account is part of the cursor, so one account's cursor cannot page another's.
        cursor_filters = {"account_id": account}
        after = None
        if cursor is not None:
            after = _version_position(cursors, cursor, cursor_filters)
        try:
            known, views = read_transactions(account, after, limit + 1)
        except ReadModelMissing as missing:
            if read_account(account) is None:
                raise ProblemError(
                    ProblemCode.ACCOUNT_NOT_FOUND, f"no account {account}"
                ) from missing
            raise ProblemError(
                ProblemCode.TRANSACTIONS_NOT_AVAILABLE,
                "the transactions read model is not deployed yet; the account's balance is at"
                f" /accounts/{account}",
            ) from missing
        if not known:
            raise ProblemError(ProblemCode.ACCOUNT_NOT_FOUND, f"no account {account}")
        page = views[:limit]
        next_cursor = (
            cursors.issue(TRANSACTIONS_LIST, cursor_filters, str(page[-1].version))
            if len(views) > limit
            else None
        )
        etag = transactions_page_etag(page, next_cursor)
        if none_match(if_none_match, etag):
            raise NotModified(etag)
        return Response(
            status_code=HTTPStatus.OK.value,
            content_type="application/json",
            body=TransactionPage(
                items=[transaction_document(view) for view in page], next_cursor=next_cursor
            ),
            headers={"ETag": etag, "Cache-Control": CACHE_CONTROL},
        )


_Read = TypeVar("_Read", bound=Callable[..., Any])


def _traced(tracer: Tracer, read: _Read) -> _Read:
    # Rows may hold personal data (owners): the subsegment records timing, not the answer.
    return tracer.capture_method(capture_response=False)(read)


def _version_position(cursors: CursorSigner, cursor: str, filters: Mapping[str, str]) -> int:
    """The version a transactions cursor ends its page with (422 if we did not issue it)."""
    try:
        after = cursors.position(cursor, TRANSACTIONS_LIST, filters)
        if not after.isdigit():
            # Signed by us, so only a format change could get here.
            raise InvalidCursor("not a cursor issued by this API")
    except InvalidCursor as error:
        metrics.add_metric(name="CursorRejected", unit=MetricUnit.Count, value=1)
        raise ProblemError(
            ProblemCode.VALIDATION_ERROR, f"query parameter 'cursor': {error}"
        ) from error
    return int(after)


def _well_formed_id(account_id: str) -> str:
    if not _ACCOUNT_ID.fullmatch(account_id):
        # The contract answers a malformed id like an unknown one; the id is not echoed back.
        raise ProblemError(ProblemCode.ACCOUNT_NOT_FOUND, "not a well-formed account id")
    return account_id.lower()


def _register_error_handlers(app: APIGatewayHttpResolver) -> None:
    handle: Callable[[type[Exception] | list[type[Exception]]], Callable[[Any], Any]] = (
        app.exception_handler
    )

    @handle(ProblemError)
    def _problem(error: ProblemError) -> Response[str]:
        logger.info("answered with a problem", extra={"code": error.code.value})
        return problem_response(error.code, error.detail)

    @handle(NotModified)
    def _not_modified(error: NotModified) -> Response[str]:
        return Response(
            status_code=HTTPStatus.NOT_MODIFIED.value,
            headers={"ETag": error.etag, "Cache-Control": CACHE_CONTROL},
        )

    @handle(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        detail = "; ".join(_describe(problem) for problem in error.errors())
        logger.info("answered with a problem", extra={"code": "validation_error"})
        return problem_response(ProblemCode.VALIDATION_ERROR, detail or "invalid request")

    @handle(NotFoundError)
    def _no_route(_error: NotFoundError) -> Response[str]:
        path = app.current_event.path
        if _ACCOUNT_PATH.fullmatch(path):
            # An id the route pattern refused (a quote, a backslash...) is still a malformed id.
            return problem_response(ProblemCode.ACCOUNT_NOT_FOUND, "not a well-formed account id")
        return problem_response(ProblemCode.NOT_FOUND, "no route for this method and path")

    @handle(_UNAVAILABLE)
    def _unavailable(error: Exception) -> Response[str]:
        metrics.add_metric(name="ReadModelUnavailable", unit=MetricUnit.Count, value=1)
        logger.warning("the database did not answer", extra={"error": type(error).__name__})
        return problem_response(
            ProblemCode.READ_MODEL_UNAVAILABLE, "the read model did not answer; try again"
        )

    @handle(Exception)
    def _unexpected(_error: Exception) -> Response[str]:
        # A bug or a broken read model, never the client's input: logged with its traceback,
        # answered without it.
        logger.exception("unexpected error")
        return problem_response(ProblemCode.INTERNAL_ERROR, "an unexpected error; it was logged")


def _describe(problem: Any) -> str:
    location: Sequence[Any] = problem.get("loc", ()) if isinstance(problem, dict) else ()
    kind = _PARAMETER_KINDS.get(str(location[0]), str(location[0])) if location else "request"
    name = ".".join(str(part) for part in location[1:])
    message = problem.get("msg", "is invalid") if isinstance(problem, dict) else "is invalid"
    return f"{kind} '{name}': {message}" if name else f"{kind}: {message}"
