"""Where a DNC check's time goes, step by step, in one process (no gunicorn, no sampler).

python -m bench.dnc_steps [--numbers 100000] [--batches 60] [--listed 10]

Builds one workspace's cache (`--numbers` random US numbers in the bucketed intsets) and
indexes 2,500 of them in OpenSearch, then for each batch of 1,000 never-seen numbers
(`--listed` of them listed, as in bench.dnc) times, one after the other on the same
batch: the whole POST through the Flask test client, the strict JSON parse of its body,
the normalization (`canonical_many`), the cache script call, the listed numbers' entry
read, the rows (`check_rows`) and the reply's orjson encoding; then the raw `SMISMEMBER`
of the same 1,000 numbers on a plain set. For the single check it times an unlisted and
a listed number's GET, and the entry read alone (`DncService.lookup`, a one-document
mget) beside a GET by id of another entry. Medians and p99 in ms; the machine's load
moves every figure, so read the steps against each other and against the raw call of
the same run.

It uses the shared Redis and OpenSearch under a key and index prefix of its own
(`bench-dncsteps-<run>-`) and removes everything it made.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import time

import orjson

PREFIX = f"bench-dncsteps-{secrets.token_hex(3)}-"
os.environ.setdefault("INDEX_PREFIX", PREFIX)
os.environ.setdefault("REDIS_KEY_PREFIX", PREFIX)
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("RATE_LIMIT_ENABLED", "false")

from opensearchpy import helpers  # noqa: E402

from app import create_app, services  # noqa: E402
from app.cli.tokens import mint  # noqa: E402
from app.config import Config  # noqa: E402
from app.dnc import number_of  # noqa: E402
from app.heap import freeze_startup_objects  # noqa: E402
from app.jsonio import strict_loads  # noqa: E402
from app.phones import canonical_many, to_e164  # noqa: E402
from app.search.indices import drop_all, ensure_all  # noqa: E402
from app.services.dnc_checks import check_rows  # noqa: E402
from bench.benchlib import json_headers, print_table, summarize  # noqa: E402
from bench.dnc import WORKSPACE, random_us_numbers  # noqa: E402

RECORD_NUMBERS = 2_500


def fill(app, phones: list[str]) -> list[str]:
    """The cache holds `phones`; the record holds the first valid ones (returned)."""
    dnc = services.dnc()
    layout = dnc.cache.begin_build(WORKSPACE, len(phones))
    for start in range(0, len(phones), 10_000):
        chunk = phones[start : start + 10_000]
        dnc.cache.load_numbers(WORKSPACE, layout, [number_of(p) for p in chunk])
    dnc.cache.finish_build(WORKSPACE, layout)
    listed = [p for p in phones[:8_000] if to_e164(p)][:RECORD_NUMBERS]
    now = "2026-01-01T00:00:00.000Z"
    source = {"workspaceId": WORKSPACE, "reason": "bench", "source": "bench"}
    helpers.bulk(
        dnc.client,
        (
            {
                "_index": dnc.names.write,
                "_id": dnc.doc_id(WORKSPACE, p),
                "_routing": WORKSPACE,
                "_source": {**source, "phone": p, "addedAt": now, "updatedAt": now},
            }
            for p in listed
        ),
    )
    dnc.client.indices.refresh(index=dnc.names.write)
    return listed


def run(args) -> None:
    app = create_app(Config)
    opensearch, redis_client = app.extensions["opensearch"], app.extensions["redis"]
    ensure_all(opensearch, PREFIX)
    plain = f"{PREFIX}plain:{{{WORKSPACE}}}"
    try:
        with app.app_context():
            dnc = services.dnc()
            phones = random_us_numbers(args.numbers)
            listed = fill(app, phones)
            for start in range(0, len(phones), 10_000):
                redis_client.sadd(plain, *phones[start : start + 10_000])
            freeze_startup_objects()
            rng = random.Random(9)
            unread = listed[:]
            rng.shuffle(unread)

            def fresh() -> str:
                npa, nxx, line = (
                    rng.randrange(200, 1000),
                    rng.randrange(200, 1000),
                    rng.randrange(10**4),
                )
                return f"+1{npa}{nxx}{line:04d}"

            client = app.test_client()
            headers = json_headers(mint([WORKSPACE], "dnc:read"))
            steps: dict[str, list[float]] = {}

            def timed(name: str, call, *args, **kwargs):
                started = time.perf_counter()
                value = call(*args, **kwargs)
                steps.setdefault(name, []).append((time.perf_counter() - started) * 1000)
                return value

            def get(phone: str) -> bytes:
                path = f"/v1/dnc/check?workspaceId={WORKSPACE}&phone=%2B{phone[1:]}"
                return client.get(path, headers=headers).get_data()

            def post(body: bytes) -> bytes:
                return client.post("/v1/dnc/check", data=body, headers=headers).get_data()

            def get_one(phone: str) -> dict:
                doc_id = dnc.doc_id(WORKSPACE, phone)
                return dnc.client.get(index=dnc.names.read, id=doc_id, routing=WORKSPACE)

            for i in range(args.batches + 10):
                batch = [fresh() for _ in range(1_000)]
                for j in range(args.listed):
                    batch[j * 97] = unread.pop()
                body = orjson.dumps({"workspaceId": WORKSPACE, "phones": batch})
                timed("POST /v1/dnc/check x1000, whole request", post, body)
                timed("  strict JSON parse of the body", strict_loads, body)
                normalized = timed("  canonical_many", canonical_many, batch, "US")
                valid = list(dict.fromkeys(p for p in normalized if p))
                answer = timed("  cache script call", dnc.cache.check_many, WORKSPACE, valid)
                flagged = {p for p, f in zip(valid, answer.flags, strict=True) if f}
                others = [unread.pop() for _ in range(args.listed)]  # not read yet
                details = timed("  entries of the listed (mget)", dnc.lookup, WORKSPACE, others)
                built = timed(
                    "  rows (check_rows)", check_rows, batch, normalized, flagged, details, "US"
                )
                timed("  reply encoding (orjson)", orjson.dumps, {"data": built[0]})
                timed("raw SMISMEMBER x1000 (plain set)", redis_client.smismember, plain, batch)
                timed("GET /v1/dnc/check, unlisted", get, fresh())
                timed("GET /v1/dnc/check, listed (first check)", get, unread.pop())
                timed("  entry read: lookup (mget)", dnc.lookup, WORKSPACE, [unread.pop()])
                timed("  entry read: GET by id", get_one, unread.pop())
                if i == 9:  # the first ten rounds warm the process up
                    steps.clear()
    finally:
        drop_all(opensearch, PREFIX)
        keys = list(redis_client.scan_iter(match=f"{PREFIX}*", count=1000))
        for start in range(0, len(keys), 500):
            redis_client.delete(*keys[start : start + 500])
    rows = [{"step": name, **summarize(samples)} for name, samples in steps.items()]
    print_table(rows, f"DNC check steps, in-process (ms; {args.numbers:,} numbers in the cache)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--listed", type=int, default=10)
    args = parser.parse_args()
    needed = (args.batches + 10) * (2 * args.listed + 3)
    if needed > RECORD_NUMBERS:
        raise SystemExit(f"--batches x --listed needs {needed} listed numbers; at most 2,500")
    run(args)


if __name__ == "__main__":
    main()
