"""Pulumi component and stack of stream-relay: ``StreamRelay`` (stream_relay.py), wired by
``program.stream_relay_stack``."""
