"""The shared platform stack: event store, event bus, network, projection database.

One component per file (``EventStore``, ``EventBus``, ``Network``, ``ProjectionDatabase``), the
configuration in ``config``; ``infra/__main__.py`` wires them together and exports
``platform_infra.platform_outputs.PlatformOutput``.
"""
