"""Fixtures of the chaos suite: central servers with a bus come from the bus suite."""

from tests.sync_server.bus.conftest import make_bus_central

__all__ = ["make_bus_central"]
