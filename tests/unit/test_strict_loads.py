"""strict_loads answers every body exactly as its stdlib-only form did: the same value or
the same 400, with orjson's writer as a first, cheaper test for lone surrogates."""

from __future__ import annotations

import json
import random

import pytest

from app.errors import ValidationError
from app.jsonio import _finite_float, _no_constant, _number, strict_loads


def reference_loads(text: str):
    """strict_loads before the orjson pre-check (stdlib only)."""
    try:
        value = json.loads(
            text,
            parse_int=lambda t: _number(t, int),
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except RecursionError:
        raise ValidationError("The JSON is nested too deeply.") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("The JSON contains text that is not valid Unicode.") from None
    except RecursionError:
        raise ValidationError("The JSON is nested too deeply.") from None
    return value


def outcome(loads, text: str):
    try:
        return ("value", loads(text))
    except ValidationError as exc:
        return ("400", exc.message)


def nested(depth: int, leaf: str = '"x"') -> str:
    return "[" * depth + leaf + "]" * depth


HOSTILE = [
    '{"a": "\\ud800"}',
    '{"a": ["ok", {"b": "\\udfff tail"}]}',
    '{"\\ud83d": 1}',
    '{"a": "\\ud83d\\ude00"}',
    '"\\u0000 nul"',
    '{"n": 18446744073709551616}',
    '{"n": -9223372036854775809, "s": "\\ud800"}',
    '{"n": ' + "9" * 100 + "}",
    '{"n": ' + "9" * 101 + "}",
    '{"f": 1e999}',
    '{"f": NaN}',
    nested(253),
    nested(254),
    nested(255),
    nested(600),
    nested(600, '"\\ud800"'),
    nested(300, "18446744073709551616"),
    nested(5000),
    '{"a": "é€😀", "b": [1, 2.5, true, false, null]}',
    "[]",
    "{}",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_bodies_get_the_same_answer(text):
    assert outcome(strict_loads, text) == outcome(reference_loads, text)


def test_generated_bodies_get_the_same_answer():
    rng = random.Random(7)
    pieces = ["a", "é", "😀", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u0000", "x" * 50]
    for _ in range(2_000):

        def text_value() -> str:
            return '"' + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))) + '"'

        def value(depth: int) -> str:
            kind = rng.randint(0, 5 if depth < 6 else 2)
            if kind == 0:
                return text_value()
            if kind == 1:
                return str(rng.choice([0, -1, 2**63, 2**64, -(2**63) - 1, 10**30]))
            if kind == 2:
                return rng.choice(["1.5", "-0.0", "1e308", "true", "null"])
            if kind in (3, 4):
                return "[" + ", ".join(value(depth + 1) for _ in range(rng.randint(0, 3))) + "]"
            items = (f"{text_value()}: {value(depth + 1)}" for _ in range(rng.randint(0, 3)))
            return "{" + ", ".join(items) + "}"

        text = value(0)
        assert outcome(strict_loads, text) == outcome(reference_loads, text), text
