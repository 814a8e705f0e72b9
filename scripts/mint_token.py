"""Kept for the benchmarks that import `mint` from here until they move; the token
minter is app/cli/tokens.py, the command `contacts mint-token`."""

from app.cli.tokens import mint

__all__ = ["mint"]
