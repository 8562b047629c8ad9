"""The stream-relay stack: build the function's package, then wire config, component, exports."""

from platform_infra.packaging import build_lambda_package
from stream_relay.settings import MEMBER

from stream_relay_stack.program import stream_relay_stack

stream_relay_stack(build_lambda_package(MEMBER))
