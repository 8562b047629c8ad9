"""Read model: each account's deposits and withdrawals with the balance after each
(``transactions.transactions``), on Postgres or SQLite.

- :mod:`projection_transactions.projection`: the declaration (state, apply functions, store,
  ``PROJECTION``)
- :mod:`projection_transactions.model`: the table
- :mod:`projection_transactions.migrations`: versioned schema changes
- :mod:`projection_transactions.migrate`: the deploy-time migration entry point
- :mod:`projection_transactions.handler`: the Lambda entry point
- :mod:`projection_transactions.settings`: environment variable names and settings
"""
