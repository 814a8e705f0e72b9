"""History: every operation the chaos clients ran, with invoke and complete times.

Times come from one monotonic clock in one process. One HTTP request that answers
about several numbers (a bulk check, a DNC import, a search) is recorded as one
operation per number, all with the request's own invoke and complete times.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

# Reads answer about a number: "listed", "callable" or "unknown" (503, error, dnc: null).
READ_OUTCOMES = ("listed", "callable", "unknown")
# Writes: "ok" (2xx); "fail" (5xx or no answer: it may or may not have taken effect);
# "rejected" (a definite 4xx, e.g. DELETE of a number that is not listed: no effect).
WRITE_OUTCOMES = ("ok", "fail", "rejected")
WRITE_OPS = ("add", "delete")


@dataclass(frozen=True)
class Op:
    client: str
    kind: str  # "add", "delete" or "read"
    key: str  # the number, as ASCII E.164
    invoke: float
    complete: float
    outcome: str
    via: str = ""  # the request behind it: "dnc.add", "check.bulk", "search.dnc_false", ...
    detail: dict = field(default_factory=dict, compare=False, hash=False)


class History:
    """Thread-safe, append-only list of Ops."""

    def __init__(self) -> None:
        self._ops: list[Op] = []
        self._lock = threading.Lock()

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def record(
        self,
        client: str,
        kind: str,
        key: str,
        invoke: float,
        complete: float,
        outcome: str,
        via: str = "",
        **detail,
    ) -> Op:
        if kind == "read":
            assert outcome in READ_OUTCOMES, outcome
        else:
            assert kind in WRITE_OPS and outcome in WRITE_OUTCOMES, (kind, outcome)
        op = Op(client, kind, key, invoke, complete, outcome, via, detail)
        with self._lock:
            self._ops.append(op)
        return op

    def ops(self) -> list[Op]:
        with self._lock:
            return list(self._ops)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)

    def counts(self) -> Counter:
        """Operations by request kind and outcome, e.g. ("check.single", "callable")."""
        return Counter((op.via or op.kind, op.outcome) for op in self.ops())
