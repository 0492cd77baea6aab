"""Shared test configuration: services come only through the fixture layer in tests/services.py."""

pytest_plugins = ["tests.services"]
