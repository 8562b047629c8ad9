"""Cross-service tests: the whole path against real Postgres, moto and the real state machine"""
