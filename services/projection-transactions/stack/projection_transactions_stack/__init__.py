"""Pulumi stack of projection-transactions: the generic ``platform_infra.projection_service.
ProjectionService``, wired by ``program.projection_transactions_stack``."""
