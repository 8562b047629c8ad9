"""Ports the command side depends on, and their AWS implementations."""
