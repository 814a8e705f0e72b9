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

`bulk_items` sends a list of bulk actions as the import did with opensearch-py's
`streaming_bulk` (the same bodies, split at the same size, the same retries of items
refused as overloaded), from lines written this way; tests compare both on a scripted
engine.

`BULK_REPLY` is the `filter_path` of a writer's bulk: each item's status, where it
landed (index, id, sequence number, primary term) and its error, and the `errors` flag.
The engine then writes, and the writer decodes, about half the reply (no `_shards`,
`_version` or `result` per item).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
from opensearchpy import OpenSearch, TransportError
from opensearchpy.helpers import expand_action
from opensearchpy.serializer import Serializer

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# A bulk request larger than this is split (the engine refuses bodies over 100 MB).
MAX_BULK_BYTES = 50 * 1024 * 1024
BULK_REPLY = ",".join(
    ["errors"]
    + [f"items.*.{field}" for field in ("status", "_index", "_id", "_seq_no", "_primary_term")]
    + ["items.*.error"]
)


def bulk_body(lines: Iterable[object], serializer: Serializer) -> bytes:
    """The newline-delimited body of a bulk request (see the module docstring)."""
    body = bytearray()
    for line in lines:
        body += _line(line, serializer)
        body += b"\n"
    return bytes(body) or b"\n"


def _line(line: object, serializer: Serializer) -> bytes:
    if isinstance(line, str | bytes):  # already serialized: sent as it is
        return line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    try:
        return orjson.dumps(line, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: the client's serializer decides
        return serializer.dumps(line).encode("utf-8", "surrogatepass")


def bulk_items(
    client: OpenSearch,
    actions: list[dict],
    *,
    retries: int = 3,
    backoff: float = 1.0,
    max_bytes: int = MAX_BULK_BYTES,
) -> list[dict]:
    """Each action's reply item (`{op_type: info}`), in action order.

    What opensearch-py's streaming_bulk (`max_retries`, `initial_backoff`,
    `max_chunk_bytes`, a chunk size of all the actions) did, without its line-by-line
    text: each action written once (`expand_action`'s lines, as `bulk_body` writes
    them); bulks of up to `max_bytes`; the items the engine refused as overloaded (429),
    or a whole bulk it refused so, sent again up to `retries` times after `backoff`
    seconds, doubled each time."""
    serializer = client.transport.serializer
    parts = []
    for action in actions:
        meta, source = expand_action(action)
        part = _line(meta, serializer) + b"\n"
        parts.append(part if source is None else part + _line(source, serializer) + b"\n")
    items: list[dict] = [{}] * len(actions)
    chunk: list[int] = []
    size = 0
    for n, part in enumerate(parts):
        if chunk and size + len(part) > max_bytes:
            _send_chunk(client, parts, chunk, items, retries, backoff)
            chunk, size = [], 0
        chunk.append(n)
        size += len(part)
    if chunk:
        _send_chunk(client, parts, chunk, items, retries, backoff)
    return items


def _send_chunk(
    client: OpenSearch,
    parts: list[bytes],
    pending: list[int],
    items: list[dict],
    retries: int,
    backoff: float,
) -> None:
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(600, backoff * 2 ** (attempt - 1)))
        body = b"".join(parts[n] for n in pending)
        try:
            reply = client.bulk(body=body, filter_path=BULK_REPLY)
        except TransportError as exc:
            if attempt == retries or exc.status_code != 429:
                raise
            continue
        refused = []
        for n, item in zip(pending, reply["items"], strict=True):
            if next(iter(item.values())).get("status") == 429 and attempt < retries:
                refused.append(n)
            else:
                items[n] = item
        if not refused:
            return
        pending = refused
