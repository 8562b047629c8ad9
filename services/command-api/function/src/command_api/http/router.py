"""API Gateway HTTP API (payload 2.0) events to the API's endpoints, and replies back to events.

Not powertools' ``APIGatewayHttpResolver``: importing ``aws_lambda_powertools.event_handler``
loads every resolver powertools ships (AppSync, Bedrock agents, VPC Lattice, with asyncio and
every event data class), about a seventh of this function's cold start, for four routes, a 404
and a 500. Paths match as powertools matched them, so every answer stays the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from command_api.reply import Reply

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# A path parameter is one path segment of these characters (powertools' rule, RFC 3986's safe and
# unsafe characters and word characters): a value outside it is no route, so a 404.
_SEGMENT: Final = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PARAMETER: Final = re.compile(r"\\\{(\w+)\\\}")

Endpoint = Callable[..., Reply]
NotFound = Callable[[], Reply]
Unexpected = Callable[[Exception], Reply]


@dataclass(frozen=True, slots=True)
class Request:
    """What the endpoints read of the event being answered."""

    event: Mapping[str, Any]

    @property
    def method(self) -> str:
        http = self.event.get("requestContext", {}).get("http", {})
        return str(http.get("method") or "").upper()

    @property
    def path(self) -> str:
        return str(self.event.get("rawPath") or "/")

    @property
    def request_id(self) -> str | None:
        request_id = self.event.get("requestContext", {}).get("requestId")
        return str(request_id) if request_id else None


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: Endpoint


def path_pattern(template: str) -> re.Pattern[str]:
    """``/accounts/{account_id}`` -> a pattern matching the whole path, naming its parameters."""
    named = _PARAMETER.sub(lambda found: f"(?P<{found[1]}>{_SEGMENT})", re.escape(template))
    return re.compile(f"^{named}$")


@dataclass
class Router:
    """Calls the endpoint whose method and path template match, ``not_found`` when none does, and
    ``unexpected`` for any exception either raises; ``context`` lives for one request."""

    not_found: NotFound
    unexpected: Unexpected
    context: dict[str, Any] = field(default_factory=dict)
    _routes: list[_Route] = field(default_factory=list)
    _request: Request | None = None

    def add(self, method: str, template: str, endpoint: Endpoint) -> None:
        self._routes.append(_Route(method.upper(), path_pattern(template), endpoint))

    @property
    def request(self) -> Request:
        if self._request is None:
            msg = "no request is being answered"
            raise RuntimeError(msg)
        return self._request

    def resolve(self, event: Mapping[str, Any], _context: LambdaContext) -> dict[str, Any]:
        """The Lambda proxy answer (payload 2.0) to one event."""
        self._request = request = Request(event)
        try:
            try:
                reply = self._dispatch(request)
            except Exception as error:
                reply = self.unexpected(error)
        finally:
            self._request = None
            self.context.clear()
        return http_api_response(reply)

    def _dispatch(self, request: Request) -> Reply:
        method, path = request.method, request.path
        for route in self._routes:
            if route.method != method:
                continue
            matched = route.pattern.match(path)
            if matched is not None:
                return route.endpoint(**matched.groupdict())
        return self.not_found()


def http_api_response(reply: Reply) -> dict[str, Any]:
    """A reply in API Gateway HTTP API's Lambda proxy format (payload 2.0)."""
    return {
        "statusCode": reply.status,
        "body": reply.body,
        "isBase64Encoded": False,
        "headers": dict(reply.headers),
        "cookies": [],
    }
