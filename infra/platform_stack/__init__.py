"""The shared platform stack: event store, event bus, network, projection database"""
