"""Pulumi stack of projection-balances: the generic ``platform_infra.projection_service.
ProjectionService``, wired by ``program.projection_balances_stack``."""
