"""The write freeze of a reindex's last step, and writers that ride through it.

Contract. `set_write_block` sets or lifts `index.blocks.write` on an index (the freeze).
`freeze_tolerant` wraps a client's transport so that a write refused by that freeze is
retried, with backoff, until the aliases have moved or `max_wait` passes; a bulk request
retries only its refused items. The freeze is checked before a write runs, so a refused
write never happened and retrying it is safe.

Why a module of their own: app/search/reindex.py freezes the source for well under a
second, and every writer's client (app/wiring.py) must tolerate that; the retry lives on
the writers' side of the freeze, not in the reindex pipeline.
"""

from __future__ import annotations

import functools
import json
import time

from opensearchpy import AuthorizationException, OpenSearch


def set_write_block(client: OpenSearch, index: str, blocked: bool) -> None:
    client.indices.put_settings(index=index, body={"index.blocks.write": blocked})


def _is_write_block(error) -> bool:
    text = json.dumps(error) if not isinstance(error, str) else error
    return "cluster_block_exception" in text and "index write" in text


def _bulk_lines(body) -> list[tuple[str, str | None]]:
    """Split a serialized bulk body into (action, source-or-None) pairs."""
    text = body.decode() if isinstance(body, bytes) else body
    lines = [line for line in text.split("\n") if line]
    pairs, index = [], 0
    while index < len(lines):
        action = lines[index]
        has_source = next(iter(json.loads(action))) != "delete"
        pairs.append((action, lines[index + 1] if has_source else None))
        index += 2 if has_source else 1
    return pairs


def _refused_items(response) -> list[int]:
    if not isinstance(response, dict) or not response.get("errors"):
        return []
    return [
        n
        for n, item in enumerate(response["items"])
        if _is_write_block(next(iter(item.values())).get("error", ""))
    ]


def freeze_tolerant(client: OpenSearch, max_wait: float) -> None:
    """Retry writes refused by a reindex's write freeze until the aliases have moved.

    The freeze is checked before a write runs, so a refused write never happened and
    retrying it is safe; the retry resolves the write alias again and lands in the new
    index. Bulk requests retry only their refused items.
    """
    transport = client.transport
    perform = transport.perform_request

    def attempt(method, url, params, body, args, kwargs, deadline):
        delay = 0.02
        while True:
            try:
                return perform(method, url, params, body, *args, **kwargs)
            except AuthorizationException as exc:
                if not _is_write_block(exc.info) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    @functools.wraps(perform)
    def tolerant(method, url, params=None, body=None, *args, **kwargs):
        deadline = time.monotonic() + max_wait
        response = attempt(method, url, params, body, args, kwargs, deadline)
        if not url.split("?")[0].endswith("_bulk"):
            return response
        refused, pairs = _refused_items(response), None
        while refused and time.monotonic() < deadline:
            pairs = pairs or _bulk_lines(body)
            retry_body = "".join(
                pairs[n][0] + "\n" + (pairs[n][1] + "\n" if pairs[n][1] else "") for n in refused
            )
            time.sleep(0.05)
            retried = attempt(method, url, params, retry_body, args, kwargs, deadline)
            for n, item in zip(refused, retried["items"], strict=True):
                response["items"][n] = item
            refused = [refused[k] for k in _refused_items(retried)]
            response["errors"] = any("error" in next(iter(i.values())) for i in response["items"])
        return response

    transport.perform_request = tolerant
