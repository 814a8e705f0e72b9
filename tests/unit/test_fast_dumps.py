"""fast_dumps writes string-keyed values without orjson's non-string-key option (twice as
fast) and anything else with it: the same bytes as the single-option writer it replaced,
and the same None where orjson cannot write the value."""

from __future__ import annotations

import dataclasses
import datetime
import random

import orjson
import pytest

from app.jsonio import ORJSON_OPTIONS, fast_dumps


def reference(value, default) -> bytes | None:
    try:
        return orjson.dumps(value, default=default, option=ORJSON_OPTIONS)
    except TypeError:
        return None


def default(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    raise TypeError(type(value).__name__)


@dataclasses.dataclass
class Point:
    x: int


ODD = [
    {1: "int key"},
    {"a": {2.5: "float key", None: "none key", True: "bool key"}},
    {"when": datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)},
    {"p": Point(3)},
    {"big": 2**70},
    {"lone": "\ud800"},
    {"set": {1, 2}},
    [{"a": 1}, {3: {"b": [datetime.date(2026, 1, 1)]}}],
    {datetime.date(2026, 1, 1): "date key"},
    {"é😀": ["ü", "\u0000"]},
]


@pytest.mark.parametrize("value", ODD, ids=range(len(ODD)))
def test_odd_values_are_written_as_before(value):
    assert fast_dumps(value, default) == reference(value, default)


def test_generated_values_are_written_as_before():
    rng = random.Random(11)
    keys = ["a", "é", 1, 2.5, None, "x" * 40]
    leaves = [0, -1, 1.5, "s", "é😀", None, True, 2**63, datetime.datetime(2026, 1, 1)]

    def value(depth: int):
        kind = rng.randint(0, 2 if depth < 5 else 0)
        if kind == 0:
            return rng.choice(leaves)
        if kind == 1:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 3))}

    for _ in range(3_000):
        item = value(0)
        assert fast_dumps(item, default) == reference(item, default), item
