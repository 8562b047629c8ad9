"""Pulumi component and stack of projection-balances: ``ProjectionService`` (projection_service.py,
generic for any projection), wired by ``program.projection_balances_stack``."""
