"""What every command shares: the process's wiring, built once from the environment."""

from __future__ import annotations

import functools

from app.jobs import config_dict
from app.wiring import Wiring


@functools.cache
def wiring() -> Wiring:
    """Clients and services for a command: the worker's settings (long timeouts, retries)."""
    return Wiring(config_dict(), background=True)
