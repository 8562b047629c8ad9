"""Who sent a request, as API Gateway's authorizer vouched for it: the scope of its
``Idempotency-Key``.

Keys are chosen by clients, so two callers can send the same one. Each key therefore lives in its
caller's scope: a caller replays only its own answers and can never tell, from a 422
``idempotency_key_reused``, which keys another caller has used.

The identity comes from the HTTP API's request context (payload 2.0), which API Gateway writes
after authorizing the request, never from anything the client sent:

- IAM (SigV4, the default on every route): ``authorizer.iam``. The principal is ``userArn`` with
  an assumed role's session name removed (see :func:`principal_arn`); a Cognito identity pool
  caller is its ``cognitoIdentity`` instead, because every identity of a pool signs with one role.
- JWT: ``authorizer.jwt.claims``, ``iss`` and ``sub`` (a subject is unique per issuer only).
- Neither (platform-local without a caller, tests): one anonymous scope. API Gateway fills these
  fields whenever it authorizes a request, so a request context without them, or with values of
  the wrong type, means no authorizer ran; it is not refused (it is not the client's doing). A
  Lambda authorizer's context (``authorizer.lambda``) is not read: the stacks offer IAM or JWT.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

# Field names of API Gateway's HTTP API request context (payload format 2.0).
REQUEST_CONTEXT: Final = "requestContext"
AUTHORIZER: Final = "authorizer"
IAM: Final = "iam"
IAM_USER_ARN: Final = "userArn"
IAM_CALLER_ID: Final = "callerId"
IAM_ACCOUNT_ID: Final = "accountId"
IAM_COGNITO_IDENTITY: Final = "cognitoIdentity"
COGNITO_IDENTITY_POOL_ID: Final = "identityPoolId"
COGNITO_IDENTITY_ID: Final = "identityId"
JWT: Final = "jwt"
JWT_CLAIMS: Final = "claims"
CLAIM_ISSUER: Final = "iss"
CLAIM_SUBJECT: Final = "sub"

# arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>; neither name holds "/".
_ASSUMED_ROLE_ARN: Final = re.compile(r"(arn:[^:]*:sts::[^:]*:assumed-role/[^/]+)/[^/]*")


class CallerKind(StrEnum):
    """Where an identity comes from; part of the canonical form, so kinds never collide."""

    ANONYMOUS = "anonymous"
    IAM_PRINCIPAL = "iam"
    """A principal ARN (``userArn``)."""
    IAM_UNIQUE_ID = "iam-id"
    """An account and a principal's unique id (``callerId``), when no ARN was given."""
    COGNITO_IDENTITY = "cognito"
    JWT_SUBJECT = "jwt"


@dataclass(frozen=True, slots=True)
class Caller:
    kind: CallerKind
    identity: tuple[str, ...] = ()

    @property
    def canonical(self) -> str:
        """One text per identity: a JSON array, so no separator inside a field is ambiguous and
        any character is escaped to ASCII."""
        return json.dumps([self.kind.value, *self.identity], separators=(",", ":"))

    @property
    def digest(self) -> str:
        """The scope in the idempotency record's key: short, fixed length, no escaping."""
        return hashlib.sha256(self.canonical.encode("ascii")).hexdigest()


ANONYMOUS: Final = Caller(CallerKind.ANONYMOUS)


def caller(event: Mapping[str, Any]) -> Caller:
    """The caller of an HTTP API (payload 2.0) event; never raises, whatever the event holds."""
    authorizer = _mapping(_mapping(event.get(REQUEST_CONTEXT)).get(AUTHORIZER))
    return (
        _iam_caller(_mapping(authorizer.get(IAM)))
        or _jwt_caller(_mapping(_mapping(authorizer.get(JWT)).get(JWT_CLAIMS)))
        or ANONYMOUS
    )


def principal_arn(user_arn: str) -> str:
    """The principal behind a caller ARN: an assumed role's session name is dropped.

    A session name is chosen per session, not per principal: the SDKs' role providers name a
    session after the time they assumed the role, and credentials are refreshed about hourly. A
    client retrying after such a refresh is the same principal and must get its replay, not run
    its command twice. Sessions of one role share one scope, as they share the role's permissions;
    callers that must be told apart use distinct roles or IAM users (or JWT subjects).
    """
    match = _ASSUMED_ROLE_ARN.fullmatch(user_arn)
    return match.group(1) if match else user_arn


def _iam_caller(iam: Mapping[str, Any]) -> Caller | None:
    cognito = _mapping(iam.get(IAM_COGNITO_IDENTITY))
    pool = _text(cognito.get(COGNITO_IDENTITY_POOL_ID))
    identity = _text(cognito.get(COGNITO_IDENTITY_ID))
    if pool and identity:
        return Caller(CallerKind.COGNITO_IDENTITY, (pool, identity))
    user_arn = _text(iam.get(IAM_USER_ARN))
    if user_arn:
        return Caller(CallerKind.IAM_PRINCIPAL, (principal_arn(user_arn),))
    # callerId is "<unique id>" or, for a role session, "<role's unique id>:<session name>".
    unique_id = _text(iam.get(IAM_CALLER_ID)).partition(":")[0]
    account = _text(iam.get(IAM_ACCOUNT_ID))
    if unique_id and account:
        return Caller(CallerKind.IAM_UNIQUE_ID, (account, unique_id))
    return None


def _jwt_caller(claims: Mapping[str, Any]) -> Caller | None:
    issuer = _text(claims.get(CLAIM_ISSUER))
    subject = _text(claims.get(CLAIM_SUBJECT))
    if issuer and subject:
        return Caller(CallerKind.JWT_SUBJECT, (issuer, subject))
    return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
