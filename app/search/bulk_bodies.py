"""Bulk request bodies written once, as bytes, and bulk replies cut to what writers read.

The contract: `bulk_body(lines, serializer)` is byte for byte what opensearch-py sends
for the same list of action and source lines (each line through the client's
serializer, joined by newlines, a final newline, UTF-8 with lone surrogates passed
through), so the engine receives exactly what it did before. tests/unit/test_bulk_bodies.py
compares both on generated and hostile documents.

Why: for a list body the client serializes line by line into text, joins the text and
encodes it again; a 1,000-contact bulk paid about twice the time orjson needs to write
the lines straight into one buffer. The client's serializer (app/jsonio.py) sets
options for values a document never holds (non-string keys, which orjson handles on a
slower path for every object); here each line is first written without them, and any
line orjson refuses so (a datetime, a dataclass, a non-string key, a lone surrogate,
an integer beyond 64 bits) is written by the client's serializer, as before.

`BULK_REPLY` is the `filter_path` of a writer's bulk: each item's status, where it
landed (index, id, sequence number, primary term) and its error, and the `errors` flag.
The engine then writes, and the writer decodes, about half the reply (no `_shards`,
`_version` or `result` per item).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from opensearchpy.serializer import Serializer

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
BULK_REPLY = ",".join(
    ["errors"]
    + [f"items.*.{field}" for field in ("status", "_index", "_id", "_seq_no", "_primary_term")]
    + ["items.*.error"]
)


def bulk_body(lines: Iterable[object], serializer: Serializer) -> bytes:
    """The newline-delimited body of a bulk request (see the module docstring)."""
    dumps, body = orjson.dumps, bytearray()
    for line in lines:
        if isinstance(line, str | bytes):  # already serialized: sent as it is
            body += line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
        else:
            try:
                body += dumps(line, option=_OPTIONS)
            except TypeError:  # orjson.JSONEncodeError: the client's serializer decides
                body += serializer.dumps(line).encode("utf-8", "surrogatepass")
        body += b"\n"
    return bytes(body) or b"\n"
