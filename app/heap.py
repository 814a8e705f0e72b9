"""The collector settles once a long-running process has built everything it keeps.

A batch call, an import chunk or a search page allocates many short-lived objects, and
CPython's cyclic collector answers with collections that, every so often, walk every
object the process holds: the app, libphonenumber's metadata, compiled patterns, the
services. Those live as long as the process and are never garbage. Freezing them after
start-up (`gc.freeze`) takes them out of every later collection, which then walks only
what requests allocated: about a third less Python CPU per 1,000-item batch upsert
(docs/performance.md). Nothing else changes: reference counting still frees at once
what is not in a cycle, and cycles made by requests are still collected.

Before freezing, the tables a process would otherwise build on first use are built
now (the NANP validity tree of app/nanp.py: about 0.8 s of CPU that the first requests
would pay, and thousands of objects the collector then never walks).

Called by each gunicorn worker after it loaded the app (`post_worker_init`) and by the
background worker after it built its services (a forked job inherits both).
"""

from __future__ import annotations

import gc

from app import nanp


def freeze_startup_objects() -> None:
    """Build the lazily built tables, collect what start-up left behind, then exempt
    the rest from later collections."""
    nanp.trie()
    gc.collect()
    gc.freeze()
