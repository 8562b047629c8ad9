"""Running the real replay definition on moto's Step Functions interpreter (tests, local runner).

Step Functions spells aws-sdk task parameters in the PascalCase of the AWS SDK for Java's member
names and converts them to the service's own names; moto 5.2's interpreter hands them to boto3
verbatim (getmoto/moto#10076). For every service the replay calls the two spellings agree, except
Lambda's ``UUID``, which Step Functions expects as ``Uuid``. Rather than write a definition that
only moto accepts, the emulated side translates: moto builds each task's client from boto3's
default session, so a parameter-build hook on that session renames the parameter before botocore
serialises the request.
"""

from __future__ import annotations

from typing import Any, Final

import boto3
from botocore import handlers

# (service id, operation) -> {Step Functions parameter: botocore parameter}
SDK_PARAMETER_RENAMES: Final[dict[tuple[str, str], dict[str, str]]] = {
    ("lambda", "UpdateEventSourceMapping"): {"Uuid": "UUID"},
}


def install_sdk_parameter_casing() -> None:
    """Let boto3 clients accept Step Functions' spelling of the replay's aws-sdk parameters.

    Registered as a botocore built-in handler, so it reaches every session created afterwards
    (``mock_aws`` replaces boto3's default session when it starts, and moto's interpreter builds
    its clients from that default session), and on the current default session if there is one.
    Idempotent; requests already in botocore's spelling are left alone, so it changes nothing for
    any other caller.
    """
    for event_name, handler in _HANDLERS:
        if (event_name, handler) not in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.append((event_name, handler))
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION.events.register(
                event_name, handler, unique_id=_unique_id(event_name)
            )


def _unique_id(event_name: str) -> str:
    return f"platform-replay-sdk-casing:{event_name}"


def _renamer(renames: dict[str, str]) -> Any:
    def rename(params: dict[str, Any], **_: Any) -> None:
        for sfn_name, boto_name in renames.items():
            if sfn_name in params and boto_name not in params:
                params[boto_name] = params.pop(sfn_name)

    return rename


# Built once so that BUILTIN_HANDLERS membership (handler identity) makes installing idempotent.
_HANDLERS: Final = tuple(
    (f"before-parameter-build.{service}.{operation}", _renamer(renames))
    for (service, operation), renames in SDK_PARAMETER_RENAMES.items()
)
