"""Benchmarks: scripts that measure the platform beside its baselines and print tables.

Run ``uv run python -m benchmarks`` (every benchmark) or ``uv run python -m benchmarks NAME ...``;
``--smoke`` runs tiny sizes to prove the scripts still work (CI does that). Figures come from
full runs on a quiet machine; docs/performance.md records one.
"""
