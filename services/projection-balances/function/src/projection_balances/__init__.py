"""Read model: current balance per account (``balances.accounts``), on Postgres or SQLite.

- :mod:`projection_balances.projection`: the declaration (state, apply functions, ``PROJECTION``)
- :mod:`projection_balances.model`: the tables
- :mod:`projection_balances.migrations`: versioned schema changes
- :mod:`projection_balances.migrate`: the deploy-time migration entry point
- :mod:`projection_balances.handler`: the Lambda entry point
- :mod:`projection_balances.settings`: environment variable names and settings
"""
