"""An Idempotency-Key belongs to its caller: another caller's same key is another key, so nobody
replays (reads) someone else's answer or learns from a 422 which keys someone else used."""

from __future__ import annotations

from typing import Any

import pytest
from command_api.http import callers

KEY = {"Idempotency-Key": "shared-7"}
ACCOUNT = "123456789012"


def iam(user_arn: Any, caller_id: Any = "AIDAEXAMPLE", **extra: Any) -> dict[str, Any]:
    """``requestContext.authorizer`` as API Gateway writes it for a SigV4-signed request."""
    return {
        "iam": {
            "accessKey": "ASIAEXAMPLE",
            "accountId": ACCOUNT,
            "callerId": caller_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": user_arn,
            "userId": caller_id,
            **extra,
        }
    }


def role_session(role: str, session: str, account: str = ACCOUNT) -> dict[str, Any]:
    arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
    return iam(arn, caller_id=f"AROA{role.upper()}:{session}")


def cognito(identity_id: str) -> dict[str, Any]:
    """A Cognito identity pool user: every identity of the pool signs with the pool's one role."""
    session = role_session("Cognito_BankAuth_Role", "CognitoIdentityCredentials")
    session["iam"]["cognitoIdentity"] = {
        "amr": ["authenticated"],
        "identityId": identity_id,
        "identityPoolId": "eu-west-1:9a8b7c6d-0000-4000-8000-000000000001",
    }
    return session


def jwt(issuer: Any, subject: Any, **claims: Any) -> dict[str, Any]:
    """``requestContext.authorizer`` for a request a JWT authorizer let in."""
    return {"jwt": {"claims": {"iss": issuer, "sub": subject, "aud": "commands", **claims}}}


ALICE = iam(f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICE")
BOB = iam(f"arn:aws:iam::{ACCOUNT}:user/bob", "AIDABOB")
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
ANA = jwt(ISSUER, "0b5e8c1a-ana")
ANONYMOUS = None


def replayed(answer: Any) -> bool:
    return answer.headers.get("Idempotent-Replayed") == "true"


# ---------------------------------------------------------------------- two callers, one key
def test_one_key_from_two_principals_opens_two_accounts_each_replaying_its_own(api, stream) -> None:
    alice = api.open(headers=KEY, authorizer=ALICE)
    bob = api.open(headers=KEY, authorizer=BOB)  # the very same request, from someone else

    assert (alice.status, bob.status) == (201, 201)
    assert not replayed(bob)
    assert bob.body["account_id"] != alice.body["account_id"]
    assert alice.body["account_id"] not in bob.raw["body"] + str(bob.headers)
    for caller, first in ((ALICE, alice), (BOB, bob)):
        again = api.open(headers=KEY, authorizer=caller)
        assert replayed(again)
        assert (again.body, again.headers["Location"]) == (first.body, first.headers["Location"])
        assert len(stream(first.body["account_id"])) == 1


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (lambda api, account: api.deposit(account, "20.00", headers=KEY, authorizer=BOB), 201),
        (lambda api, account: api.withdraw(account, "5.00", headers=KEY, authorizer=BOB), 201),
        (lambda api, account: api.close(account, headers=KEY, authorizer=BOB), 409),
        (lambda api, account: api.open(headers=KEY, authorizer=BOB), 201),
    ],
    ids=["other-amount", "other-route", "other-method", "other-command"],
)
def test_another_body_from_another_caller_is_its_own_command_not_a_422(
    api, event_count, second, expected
) -> None:
    account = api.open_id()
    alice = api.deposit(account, "12.50", headers=KEY, authorizer=ALICE)
    events = event_count()

    bob = second(api, account)

    assert bob.status == expected
    assert bob.code != "idempotency_key_reused"
    assert not replayed(bob)
    assert event_count() == events + (1 if expected == 201 else 0)
    # Alice's key is untouched by Bob's use of the same text.
    again = api.deposit(account, "12.50", headers=KEY, authorizer=ALICE)
    assert replayed(again)
    assert again.body == alice.body
    reused = api.deposit(account, "99.00", headers=KEY, authorizer=ALICE)
    assert (reused.status, reused.code) == (422, "idempotency_key_reused")


@pytest.mark.parametrize(
    "caller",
    [ALICE, role_session("teller", "i-0abc"), cognito("eu-west-1:ana"), ANA, ANONYMOUS],
    ids=["iam-user", "iam-role", "cognito-identity", "jwt", "anonymous"],
)
def test_one_caller_still_gets_its_replay_and_a_422_for_another_body(
    api, event_count, caller
) -> None:
    account = api.open_id()
    first = api.deposit(account, "12.50", headers=KEY, authorizer=caller)
    events = event_count()

    again = api.deposit(account, "12.50", headers=KEY, authorizer=caller)
    reused = api.deposit(account, "12.51", headers=KEY, authorizer=caller)

    assert first.status == 201
    assert not replayed(first)
    assert (again.status, again.body) == (first.status, first.body)
    assert replayed(again)
    assert (reused.status, reused.code) == (422, "idempotency_key_reused")
    assert event_count() == events


# ---------------------------------------------------------------------- who is one caller
def test_sessions_of_one_role_are_one_caller(api) -> None:
    # SDK role providers name sessions after the time they assumed the role: the retry after a
    # credential refresh must still be a replay, not a second account.
    first = api.open(headers=KEY, authorizer=role_session("teller", "botocore-session-1741600000"))
    retry = api.open(headers=KEY, authorizer=role_session("teller", "botocore-session-1741603600"))
    assert replayed(retry)
    assert retry.body == first.body


@pytest.mark.parametrize(
    "other",
    [
        role_session("auditor", "botocore-session-1741600000"),
        role_session("teller", "botocore-session-1741600000", account="210987654321"),
        iam(f"arn:aws:iam::{ACCOUNT}:role/teller"),  # not a session: an ARN of another form
        ALICE,
    ],
    ids=["another-role", "same-role-name-in-another-account", "role-arn-text", "iam-user"],
)
def test_other_principals_are_other_callers(api, other) -> None:
    first = api.open(headers=KEY, authorizer=role_session("teller", "botocore-session-1741600000"))
    theirs = api.open(headers=KEY, authorizer=other)
    assert theirs.status == 201
    assert not replayed(theirs)
    assert theirs.body["account_id"] != first.body["account_id"]


def test_cognito_identities_signing_with_one_role_are_separate_callers(api) -> None:
    ana = api.open(headers=KEY, authorizer=cognito("eu-west-1:ana"))
    bo = api.open(headers=KEY, authorizer=cognito("eu-west-1:bo"))
    assert not replayed(bo)
    assert bo.body["account_id"] != ana.body["account_id"]
    assert api.open(headers=KEY, authorizer=cognito("eu-west-1:ana")).body == ana.body


def test_jwt_callers_are_scoped_by_issuer_and_subject(api) -> None:
    first = api.open(headers=KEY, authorizer=ANA)
    # A refreshed token of the same subject: other jti, exp, scopes; the same caller.
    refreshed = jwt(ISSUER, "0b5e8c1a-ana", jti="t2", exp="1741607200", scope="accounts/write")
    assert api.open(headers=KEY, authorizer=refreshed).body == first.body
    others = [
        jwt(ISSUER, "7c1d2e3f-bo"),
        jwt("https://login.example.com/", "0b5e8c1a-ana"),  # one subject name, another issuer
        iam("0b5e8c1a-ana"),  # the same text as an IAM identity is not the same caller
    ]
    accounts = {first.body["account_id"]}
    for other in others:
        answer = api.open(headers=KEY, authorizer=other)
        assert (answer.status, replayed(answer)) == (201, False)
        accounts.add(answer.body["account_id"])
    assert len(accounts) == 1 + len(others)


def test_the_anonymous_scope_is_apart_from_every_authorized_caller(api) -> None:
    anonymous = api.open(headers=KEY, authorizer=ANONYMOUS)
    alice = api.open(headers=KEY, authorizer=ALICE)
    assert not replayed(alice)
    assert alice.body["account_id"] != anonymous.body["account_id"]
    assert api.open(headers=KEY, authorizer=ANONYMOUS).body == anonymous.body


# ---------------------------------------------------------------------- odd request contexts
@pytest.mark.parametrize(
    "authorizer",
    [
        {},
        "iam",
        [],
        42,
        {"iam": None},
        {"iam": "arn:aws:iam::123456789012:user/alice"},
        {"iam": {}},
        iam(7, caller_id=None),
        iam("", caller_id=["AIDA"]),
        iam(None, caller_id="AROAEXAMPLE:s"),
        iam(None, caller_id=":", accountId=None),
        iam("arn:aws:sts::1:assumed-role//x/y"),
        iam('arn:aws:iam::123456789012:user/\ud800\u0000é"\\'),
        iam(ALICE["iam"]["userArn"], cognitoIdentity="eu-west-1:ana"),
        iam(ALICE["iam"]["userArn"], cognitoIdentity={"identityId": 3, "identityPoolId": None}),
        {"jwt": None},
        {"jwt": {"claims": "iss=x"}},
        jwt(ISSUER, None),
        jwt(["x"], {"sub": 1}),
        jwt("", ""),
        {"lambda": {"principal": "x"}},
    ],
)
def test_an_odd_request_context_is_never_a_5xx_and_still_replays(api, authorizer) -> None:
    first = api.open(headers=KEY, authorizer=authorizer)
    again = api.open(headers=KEY, authorizer=authorizer)
    assert first.status == 201, first.body
    assert replayed(again)
    assert again.body == first.body


# ---------------------------------------------------------------------- the identity itself
@pytest.mark.parametrize(
    ("user_arn", "principal"),
    [
        (
            "arn:aws:sts::123456789012:assumed-role/teller/botocore-session-1741600000",
            "arn:aws:sts::123456789012:assumed-role/teller",
        ),
        (
            "arn:aws-us-gov:sts::123456789012:assumed-role/AWSReservedSSO_Ops_1a2b/ana@example.com",
            "arn:aws-us-gov:sts::123456789012:assumed-role/AWSReservedSSO_Ops_1a2b",
        ),
        ("arn:aws:iam::123456789012:user/division/alice", None),
        ("arn:aws:iam::123456789012:root", None),
        ("arn:aws:sts::123456789012:federated-user/bob", None),
        ("arn:aws:iam::123456789012:role/teller", None),
        ("arn:aws:sts::123456789012:assumed-role/teller", None),  # no session to drop
    ],
)
def test_the_principal_of_a_caller_arn(user_arn, principal) -> None:
    assert callers.principal_arn(user_arn) == (principal or user_arn)


def test_without_an_arn_the_unique_id_and_account_name_the_caller() -> None:
    def of(caller_id: str, account: str) -> callers.Caller:
        return callers.caller(
            {"requestContext": {"authorizer": iam(None, caller_id, accountId=account)}}
        )

    assert of("AROATELLER:session-1", "1") == of("AROATELLER:session-2", "1")
    assert of("AROATELLER:session-1", "1") != of("AROATELLER:session-1", "2")
    assert of("AIDAALICE", "1").identity == ("1", "AIDAALICE")


def test_every_kind_of_caller_has_its_own_digest() -> None:
    def of(authorizer: Any) -> callers.Caller:
        return callers.caller({"requestContext": {"authorizer": authorizer}})

    scopes = [of(ALICE), of(BOB), of(ANA), of(cognito("eu-west-1:ana")), of(None), of(iam("x"))]
    scopes.append(of(jwt("x", "y")))
    scopes.append(of(jwt('x","y', "z")))  # a separator inside a field is not a field boundary
    assert len({scope.digest for scope in scopes}) == len(scopes)
    assert all(len(scope.digest) == 64 for scope in scopes)
    assert of(None) == of({}) == callers.ANONYMOUS
