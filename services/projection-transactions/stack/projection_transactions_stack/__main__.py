"""The projection-transactions stack (``Pulumi.yaml`` runs this folder): build the function's
package, then wire config, component and exports.

It lives in the package rather than next to ``Pulumi.yaml`` so that type checking sees it as
``projection_transactions_stack.__main__``, not as one more top-level ``__main__`` beside other
stacks'.
"""

from platform_infra.packaging import build_lambda_package
from projection_transactions.settings import MEMBER

from projection_transactions_stack.program import projection_transactions_stack

projection_transactions_stack(build_lambda_package(MEMBER))
