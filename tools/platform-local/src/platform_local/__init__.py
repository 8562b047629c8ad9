"""platform-local: the whole system on one machine (see ``uv run platform-local --help``)."""
