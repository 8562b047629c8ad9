"""Shared Pulumi kit: naming, tags, the Lambda function component and packaging.

Import the modules themselves; this package root imports nothing, so ``naming`` and ``packaging``
load without Pulumi:

- ``naming``: ``resource_name`` and ``ResourceKind``, every AWS name within its limits.
- ``context``: ``StackContext``, the project/stack/service/owner names and tags come from.
- ``tags``: ``register_standard_tags``, standard tags on every taggable resource of a stack.
- ``iam``: ``Statement`` and ``policy_document``, least privilege checked when written.
- ``lambda_function``: the ``LambdaFunction`` component.
- ``projection_service``: the ``ProjectionService`` component (live and replay queues, functions,
  mappings, the replay state machine); ``projection_exports``: the exports of its stacks.
- ``packaging``: ``build_lambda_package``, a deterministic, cached Lambda zip of a member.
- ``platform_outputs``: ``PlatformOutput`` names and ``PlatformStack`` (a StackReference).
- ``testing``: the pytest harness for Pulumi mocks and IAM policy checks.
"""
