"""The projection-balances stack (``Pulumi.yaml`` runs this folder): build the function's package,
then wire config, component and exports.

It lives in the package rather than next to ``Pulumi.yaml`` so that type checking sees it as
``projection_balances_stack.__main__``, not as one more top-level ``__main__`` beside other stacks'.
"""

from platform_infra.packaging import build_lambda_package
from projection_balances.settings import MEMBER

from projection_balances_stack.program import projection_balances_stack

projection_balances_stack(build_lambda_package(MEMBER))
