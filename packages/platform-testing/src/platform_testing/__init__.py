"""Test support shared by every member (loaded as a pytest plugin through an entry point)."""
