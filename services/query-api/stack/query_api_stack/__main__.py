"""The query-api stack (``Pulumi.yaml`` runs this folder): build the function's package, then
wire config, component and exports.

It lives in the package rather than next to ``Pulumi.yaml`` so that type checking sees it as
``query_api_stack.__main__``, not as one more top-level ``__main__`` beside other stacks'.
"""

from platform_infra.packaging import build_lambda_package
from query_api.settings import MEMBER

from query_api_stack.program import query_api_stack

query_api_stack(build_lambda_package(MEMBER))
