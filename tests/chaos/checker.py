"""The DNC invariant, checked over a History. Pure: no I/O, no clock.

From the moment an add of N is acknowledged until a removal of N begins, every answer
about N says "listed" or fails. As a rule over a history: a read R of N that answered
"callable" is a violation iff there is an add A of N with outcome ok and
A.complete < R.invoke, and no delete D of N with D.invoke < R.complete and
D.complete > A.invoke.

A delete that failed (5xx, timeout) may take effect at any later time, so it counts
as completing at +infinity: it excuses every later read. A delete rejected with a
definite 4xx (the number was not listed) completes when it answered. `settle` bounds
the failed deletes instead: their effect is assumed to have landed within `settle`
seconds of their answer (a stricter, optional reading used to keep long runs from
going vacuous once every number has seen one failed delete).

Finding one witness is enough: among the ok adds acknowledged before R began, the one
that began last is the hardest to excuse (the excusing condition D.complete > A.invoke
only gets harder as A.invoke grows), so each read is checked against that add alone.

Rules. A number may be listed by several entries: its own (ops keyed by the number) and
prefix rules (ops keyed `<number>#<prefix>`, one per number the rule covers). A read of
N is held to every entry of N: it is a violation when any of them obliges it.

Expiry. An add may carry `expires` (the same monotonic clock): the entry stops
obliging reads that complete at or after it. Adding the same entry again replaces its
expiry, so a read is held only until the earliest expiry among the witness and every
add that may have landed after it (overlapping it, or failed: it may land any time).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tests.chaos.history import Op


@dataclass
class Violation:
    read: Op
    add: Op
    deletes_nearby: list[Op]

    def describe(self) -> dict:
        return {
            "number": self.read.key,
            "read": _brief(self.read),
            "acknowledged_add": _brief(self.add),
            "deletes_nearby": [_brief(d) for d in self.deletes_nearby],
        }


def _brief(op: Op) -> dict:
    return {
        "client": op.client,
        "via": op.via or op.kind,
        "outcome": op.outcome,
        "invoke": round(op.invoke, 4),
        "complete": round(op.complete, 4),
        **op.detail,
    }


@dataclass
class _Deletes:
    """Deletes of one number sorted by invoke, with the running max of their completion."""

    ops: list[Op]
    invokes: list[float]
    max_complete: list[float]


@dataclass
class _Adds:
    """Ok adds of one number sorted by completion, with the running max of their invoke."""

    ops: list[Op]
    completes: list[float]
    latest: list[Op]  # latest[i]: the add with the greatest invoke among ops[: i + 1]
    expiring: list[Op]  # every add (ok or failed) that carries an expiry, by invoke


def _effective_complete(op: Op, settle: float | None) -> float:
    if op.outcome != "fail":
        return op.complete
    return math.inf if settle is None else op.complete + settle


def expires(op: Op) -> float:
    return op.detail.get("expires", math.inf)


def number_of(key: str) -> str:
    return key.split("#", 1)[0]


def _index(ops: Iterable[Op], settle: float | None):
    adds: dict[str, list[Op]] = defaultdict(list)
    deletes: dict[str, list[Op]] = defaultdict(list)
    expiring: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        if op.kind == "add" and op.outcome == "ok":
            adds[op.key].append(op)
        elif op.kind == "delete":
            deletes[op.key].append(op)
        if op.kind == "add" and op.outcome != "rejected" and "expires" in op.detail:
            expiring[op.key].append(op)
    add_index = {}
    for key, items in adds.items():
        items.sort(key=lambda o: o.complete)
        latest, best = [], None
        for op in items:
            if best is None or op.invoke > best.invoke:
                best = op
            latest.append(best)
        add_index[key] = _Adds(items, [o.complete for o in items], latest, expiring[key])
    delete_index = {}
    for key, items in deletes.items():
        items.sort(key=lambda o: o.invoke)
        running, maxima = -math.inf, []
        for op in items:
            running = max(running, _effective_complete(op, settle))
            maxima.append(running)
        delete_index[key] = _Deletes(items, [o.invoke for o in items], maxima)
    return add_index, delete_index


def obligating_add(read: Op, adds: _Adds | None, deletes: _Deletes | None) -> Op | None:
    """The acknowledged add that obliges `read` to say listed, or None if it is excused."""
    if adds is None:
        return None
    position = bisect.bisect_left(adds.completes, read.invoke)  # adds with complete < invoke
    if position == 0:
        return None
    add = adds.latest[position - 1]
    if deletes is not None:
        started = bisect.bisect_left(deletes.invokes, read.complete)  # invoke < R.complete
        if started and deletes.max_complete[started - 1] > add.invoke:
            return None
    # Expiry: the witness's own, or an earlier one set by an add that may have landed later.
    ends = [expires(add)] + [
        expires(other)
        for other in adds.expiring
        if other.invoke < read.complete and (other.outcome == "fail" or other.complete > add.invoke)
    ]
    if read.complete >= min(ends):
        return None
    return add


def check(ops: Iterable[Op], *, settle: float | None = None) -> dict:
    """Violations of the invariant, plus how many reads it actually constrained."""
    ops = list(ops)
    adds, deletes = _index(ops, settle)
    entries: dict[str, list[str]] = defaultdict(list)  # number -> its entries' keys
    for key in adds:
        entries[number_of(key)].append(key)
    violations: list[Violation] = []
    obliged = 0
    for read in ops:
        if read.kind != "read":
            continue
        add = None
        for key in entries.get(read.key, ()):
            add = obligating_add(read, adds.get(key), deletes.get(key))
            if add is not None:
                break
        if add is None:
            continue
        obliged += 1
        if read.outcome == "callable":
            nearby = [
                d
                for d in (deletes[key].ops if key in deletes else [])
                if d.invoke < read.complete + 5 and d.complete > add.invoke - 5
            ]
            violations.append(Violation(read, add, nearby))
    return {"violations": violations, "obliged_reads": obliged}
