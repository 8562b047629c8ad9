"""Read model: current balance per account, in Postgres"""
