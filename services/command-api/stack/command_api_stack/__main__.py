"""The command-api stack (``Pulumi.yaml`` runs this folder): build the function's package, then
wire config, component and exports.

It lives in the package rather than next to ``Pulumi.yaml`` so that type checking sees it as
``command_api_stack.__main__``, not as one more top-level ``__main__`` beside other stacks'.
"""

from command_api.settings import MEMBER
from platform_infra.packaging import build_lambda_package

from command_api_stack.program import command_api_stack

command_api_stack(build_lambda_package(MEMBER))
