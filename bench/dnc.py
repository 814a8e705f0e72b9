"""DNC benchmark: cache memory per number, and single / bulk check latency over HTTP.

python -m bench.dnc [--numbers 10000000] [--opensearch-numbers 100000]

1. Loads N random US numbers into one workspace's cache (bucketed intsets) and the same
   numbers into one plain Redis SET of E.164 strings, and reports bytes per number from
   INFO used_memory deltas (and, for the intsets, the sum of MEMORY USAGE).
2. Indexes a subset of them in OpenSearch (the record; `--opensearch-numbers`).
3. Serves the API under gunicorn and times GET /v1/dnc/check against a raw SISMEMBER,
   and POST /v1/dnc/check with 1,000 numbers against a raw SMISMEMBER on the plain set.
4. Adds `--prefix-rules` prefix rules (app/dnc/rules.py: +1NPA area codes and +1NPANXX
   exchanges) through the cache's own write path and the record, reports the bytes of
   the rules structure (MEMORY USAGE of the rules hash and its lengths set), and times
   the single and bulk checks again beside the raw engine call for the same data: one
   HMGET of the number's prefixes on a plain hash (x1000 pipelined for the bulk).

It runs its own redis-server on a free port so memory deltas are not blurred by other
clients, uses an index and key prefix of its own (`bench-dnc-<run>-`), and removes
everything it made.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

import orjson
import redis
from opensearchpy import OpenSearch, helpers

from app.cli.tokens import mint
from app.config import Config
from app.dnc import DncCache, number_of
from app.dnc.rules import Rule, prefixes
from app.phones import to_e164
from app.search.indices import IndexNames
from app.services.dnc_rules import rule_document
from bench.benchlib import (
    json_headers,
    print_table,
    running_api,
    scratch_indices,
    summarize,
    write_result,
)

# Its own prefix per run: dropping "bench-*" would take other benchmarks' indices with it.
PREFIX = f"bench-dnc-{secrets.token_hex(3)}-"
WORKSPACE = "ws_benchdnc"
LOAD_BATCH = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def random_us_numbers(count: int, seed: int = 5) -> list[str]:
    """Distinct NANP-shaped numbers: NPA and NXX 200-999, any line number."""
    rng = random.Random(seed)
    numbers: set[int] = set()
    while len(numbers) < count:
        need = count - len(numbers)
        numbers.update(
            10_000_000_000
            + rng.randrange(200, 1000) * 10**7
            + rng.randrange(200, 1000) * 10**4
            + rng.randrange(10_000)
            for _ in range(need)
        )
    return [f"+{n}" for n in numbers]


def used_memory(client: redis.Redis) -> int:
    return client.info("memory")["used_memory"]


def load_cache(cache: DncCache, phones: list[str]) -> dict:
    client = cache.client
    before = used_memory(client)
    started = time.perf_counter()
    layout = cache.begin_build(WORKSPACE, len(phones))
    for start in range(0, len(phones), LOAD_BATCH):
        cache.load_numbers(
            WORKSPACE, layout, [number_of(p) for p in phones[start : start + LOAD_BATCH]]
        )
    cache.finish_build(WORKSPACE, layout)
    seconds = time.perf_counter() - started
    after = used_memory(client)
    keys = [cache.bucket_key(WORKSPACE, layout.gen, b) for b in range(1 << layout.bits)]
    usage = 0
    encodings: dict[str, int] = {}
    for start in range(0, len(keys), 5_000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 5_000]:
            pipe.memory_usage(key, samples=0)
            pipe.object("encoding", key)
        replies = pipe.execute()
        usage += sum(r or 0 for r in replies[0::2])
        for encoding in replies[1::2]:
            name = (encoding or b"none").decode()
            encodings[name] = encodings.get(name, 0) + 1
    return {
        "layout_bits": layout.bits,
        "buckets": len(keys),
        "encodings": encodings,
        "bytes_per_number_info": round((after - before) / len(phones), 2),
        "bytes_per_number_memory_usage": round(usage / len(phones), 2),
        "load_seconds": round(seconds, 1),
    }


def load_plain_set(client: redis.Redis, key: str, phones: list[str]) -> dict:
    before = used_memory(client)
    started = time.perf_counter()
    for start in range(0, len(phones), LOAD_BATCH):
        client.sadd(key, *phones[start : start + LOAD_BATCH])
    seconds = time.perf_counter() - started
    after = used_memory(client)
    return {
        "bytes_per_number_info": round((after - before) / len(phones), 2),
        "encoding": client.object("encoding", key).decode(),
        "load_seconds": round(seconds, 1),
    }


def index_subset(client: OpenSearch, phones: list[str]) -> float:
    write = IndexNames(PREFIX, "dnc").write
    now = "2026-01-01T00:00:00.000Z"
    actions = (
        {
            "_index": write,
            "_id": f"{WORKSPACE}:{p}",
            "_routing": WORKSPACE,
            "_source": {
                "workspaceId": WORKSPACE,
                "phone": p,
                "reason": "bench",
                "source": "bench",
                "addedAt": now,
                "updatedAt": now,
            },
        }
        for p in phones
    )
    started = time.perf_counter()
    helpers.bulk(client, actions, chunk_size=5_000, request_timeout=120)
    client.indices.refresh(index=write)
    return time.perf_counter() - started


def random_prefixes(count: int, seed: int = 11) -> list[str]:
    """Distinct prefix rules: a quarter whole area codes (+1NPA), the rest exchanges."""
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < count:
        area = rng.randrange(200, 1000)
        if rng.random() < 0.25:
            found.add(f"+1{area}")
        else:
            found.add(f"+1{area}{rng.randrange(200, 1000)}")
    return sorted(found)


def load_prefix_rules(cache: DncCache, opensearch: OpenSearch, prefixes: list[str]) -> dict:
    """The rules through the cache's write path (mark, then add) and into the record."""
    write = IndexNames(PREFIX, "dnc").write
    now = "2026-01-01T00:00:00.000Z"
    rules = [Rule("prefix", p) for p in prefixes]
    helpers.bulk(
        opensearch,
        (
            {
                "_index": write,
                "_id": rule.doc_id(WORKSPACE),
                "_routing": WORKSPACE,
                "_source": rule_document(WORKSPACE, rule, "bench", "bench", "", now)["upsert"],
            }
            for rule in rules
        ),
        chunk_size=1_000,
    )
    opensearch.indices.refresh(index=write)
    for rule in rules:
        mark = cache.mark_rule(WORKSPACE, rule.match_key, rule.identity)
        cache.finish_rule("add", WORKSPACE, rule.match_key, rule.identity, rule.descriptor, mark)
    gen = cache.state(WORKSPACE).live.gen
    keys = [cache.rules_key(WORKSPACE, gen), cache.rule_lengths_key(WORKSPACE)]
    used = sum(cache.client.memory_usage(key, samples=0) or 0 for key in keys)
    return {"bytes": used, "fields": cache.client.hlen(keys[0])}


def timed(call, repeat: int) -> list[float]:
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class Http:
    """One keep-alive connection, as a dialer's client would hold. Bodies are written and
    read with orjson, as the API writes them: the stdlib parse of a 1,000-row reply
    (about 135 KB) took 2-5 ms of the client's own CPU, which is no part of the API's
    cost, while the raw baseline's client reads 1,000 integers."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = json_headers(token)

    def get(self, path: str) -> dict:
        self.conn.request("GET", path, headers=self.headers)
        return self._read()

    def post(self, path: str, body: dict) -> dict:
        self.conn.request("POST", path, body=orjson.dumps(body), headers=self.headers)
        return self._read()

    def _read(self) -> dict:
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {data[:200]!r}")
        return orjson.loads(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=10_000_000)
    parser.add_argument("--opensearch-numbers", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=3_000)
    parser.add_argument("--bulk", type=int, default=200)
    parser.add_argument("--prefix-rules", type=int, default=1_000)
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed")

    workdir = tempfile.mkdtemp(prefix="bench-dnc-")
    redis_port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    client = redis.Redis.from_url(redis_url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        with scratch_indices(PREFIX) as opensearch:
            result = run(args, client, redis_url, opensearch)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    path = write_result("dnc", result)
    print(f"\nwrote {path}")


def run(args, client: redis.Redis, redis_url: str, opensearch: OpenSearch) -> dict:
    print(f"generating {args.numbers:,} random US numbers", flush=True)
    phones = random_us_numbers(args.numbers)
    plain_key = f"{PREFIX}dnc-plain:{{{WORKSPACE}}}"
    cache = DncCache(client, PREFIX, Config.DNC_CACHE_BUCKET_TARGET)
    print("loading the bucketed-intset cache", flush=True)
    encoded = load_cache(cache, phones)
    print("loading a plain SET of the same numbers", flush=True)
    plain = load_plain_set(client, plain_key, phones)
    os_count = min(args.opensearch_numbers, len(phones))
    print(f"indexing {os_count:,} of them in OpenSearch", flush=True)
    os_seconds = index_subset(opensearch, phones[:os_count])

    rng = random.Random(7)
    # Only numbers libphonenumber accepts can be listed through the API, or checked.
    listed_sample = [p for p in phones[: min(os_count, 20_000)] if to_e164(p)]
    token = mint([WORKSPACE], "dnc:read dnc:write")
    env = {
        "INDEX_PREFIX": PREFIX,
        "REDIS_KEY_PREFIX": PREFIX,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "DNC_CACHE_LAZY_BUILD": "false",
    }
    port = free_port()
    rows = []
    with running_api(port, env, workers=2):
        api = Http(port, token)
        path = f"/v1/dnc/check?workspaceId={WORKSPACE}&phone=%2B"

        def fresh() -> str:  # a number nobody checked before: normalization is not memoized
            return (
                f"+1{rng.randrange(200, 1000)}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"
            )

        for _ in range(200):  # warm up workers and connections
            api.get(path + fresh()[1:])
        # A worker builds the North American trie (app/nanp.py) in the background on its
        # first check and answers with the patterns until then: let it finish.
        time.sleep(3)
        single_unlisted = [fresh() for _ in range(args.single)]
        single_listed = [rng.choice(listed_sample) for _ in range(args.single)]
        assert api.get(path + single_listed[0][1:])["data"]["dnc"] is True
        rows.append(
            {
                "path": "HTTP GET /v1/dnc/check (random numbers)",
                **summarize(timed(lambda i: api.get(path + single_unlisted[i][1:]), args.single)),
            }
        )
        rows.append(
            {
                "path": "HTTP GET /v1/dnc/check (listed: + reason from OpenSearch)",
                **summarize(timed(lambda i: api.get(path + single_listed[i][1:]), args.single)),
            }
        )
        rows.append(
            {
                "path": "raw Redis SISMEMBER (plain set)",
                **summarize(
                    timed(lambda i: client.sismember(plain_key, single_unlisted[i]), args.single)
                ),
            }
        )
        batches = [[fresh() for _ in range(1_000)] for _ in range(args.bulk)]
        for batch in batches:  # ~1% listed, the rest random
            for j in range(10):
                batch[j * 97] = rng.choice(listed_sample)
        bulk_path = "/v1/dnc/check"
        cold = timed(
            lambda i: api.post(bulk_path, {"workspaceId": WORKSPACE, "phones": batches[i]}),
            args.bulk,
        )
        # The same batches again: numbers seen before skip libphonenumber (memoized).
        warm = timed(
            lambda i: api.post(bulk_path, {"workspaceId": WORKSPACE, "phones": batches[i]}),
            args.bulk,
        )
        rows.append({"path": "HTTP POST /v1/dnc/check x1000 (new numbers)", **summarize(cold)})
        rows.append(
            {"path": "HTTP POST /v1/dnc/check x1000 (numbers seen before)", **summarize(warm)}
        )
        rows.append(
            {
                "path": "raw Redis SMISMEMBER x1000 (plain set)",
                **summarize(timed(lambda i: client.smismember(plain_key, batches[i]), args.bulk)),
            }
        )
        # Where the listed numbers' entries go: the same kind of batch with none listed
        # (no record read), and single checks of listed numbers checked before (their
        # entries remembered by the worker under the cache's stamp).
        unlisted_batches = [[fresh() for _ in range(1_000)] for _ in range(args.bulk)]
        rows.append(
            {
                "path": "HTTP POST /v1/dnc/check x1000 (new numbers, none listed)",
                **summarize(
                    timed(
                        lambda i: api.post(
                            bulk_path, {"workspaceId": WORKSPACE, "phones": unlisted_batches[i]}
                        ),
                        args.bulk,
                    )
                ),
            }
        )
        rows.append(
            {
                "path": "HTTP GET /v1/dnc/check (listed, checked before)",
                **summarize(timed(lambda i: api.get(path + single_listed[i][1:]), args.single)),
            }
        )
        check = api.post(bulk_path, {"workspaceId": WORKSPACE, "phones": batches[0]})
        assert check["meta"]["source"] == "cache" and check["meta"]["listed"] >= 10, check["meta"]

        # Prefix rules beside the exact numbers: the check now walks each number's prefixes.
        rules = random_prefixes(args.prefix_rules)
        print(f"adding {len(rules):,} prefix rules", flush=True)
        prefix_memory = load_prefix_rules(cache, opensearch, rules)
        plain_rules = f"{PREFIX}dnc-plain-rules:{{{WORKSPACE}}}"
        client.hset(plain_rules, mapping={p[1:]: "p||all|0" for p in rules})
        lengths = sorted({len(p) - 1 for p in rules})

        def raw_prefix_lookup(number: str):
            return client.hmget(plain_rules, [k for k in prefixes(number) if len(k) in lengths])

        def raw_prefix_bulk(batch: list[str]):
            pipe = client.pipeline(transaction=False)
            for number in batch:
                pipe.hmget(plain_rules, [k for k in prefixes(number) if len(k) in lengths])
            return pipe.execute()

        covered = next(n for n in ((p + "5550123")[:12] for p in rules) if to_e164(n))
        assert api.get(path + covered[1:])["data"]["match"]["rule"] == "prefix"
        prefix_rows = [
            {
                "path": f"HTTP GET /v1/dnc/check ({len(rules):,} prefix rules + exact numbers)",
                **summarize(timed(lambda i: api.get(path + single_unlisted[i][1:]), args.single)),
            },
            {
                "path": "raw Redis HMGET of the number's prefixes (plain hash)",
                **summarize(timed(lambda i: raw_prefix_lookup(single_unlisted[i]), args.single)),
            },
            {
                "path": f"HTTP POST /v1/dnc/check x1000 ({len(rules):,} prefix rules)",
                **summarize(
                    timed(
                        lambda i: api.post(
                            bulk_path, {"workspaceId": WORKSPACE, "phones": batches[i]}
                        ),
                        args.bulk,
                    )
                ),
            },
            {
                "path": "raw Redis SMISMEMBER x1000 + HMGET x1000 of prefixes (pipelined)",
                **summarize(
                    timed(
                        lambda i: (
                            client.smismember(plain_key, batches[i]),
                            raw_prefix_bulk(batches[i]),
                        ),
                        args.bulk,
                    )
                ),
            },
        ]

    memory = [
        {
            "encoding": f"bucketed intsets ({encoded['buckets']:,} buckets)",
            "numbers": len(phones),
            "bytes_per_number": encoded["bytes_per_number_info"],
            "bytes_per_number_memory_usage": encoded["bytes_per_number_memory_usage"],
            "load_s": encoded["load_seconds"],
        },
        {
            "encoding": f"plain SET of E.164 strings ({plain['encoding']})",
            "numbers": len(phones),
            "bytes_per_number": plain["bytes_per_number_info"],
            "bytes_per_number_memory_usage": "",
            "load_s": plain["load_seconds"],
        },
    ]
    print_table(memory, "Redis memory per DNC number (INFO used_memory delta)")
    print_table(rows, "Check latency (ms)")
    prefix_table = [
        {
            "structure": "rules hash + lengths set (MEMORY USAGE)",
            "prefix_rules": len(rules),
            "hash_fields": prefix_memory["fields"],
            "bytes": prefix_memory["bytes"],
            "bytes_per_rule": round(prefix_memory["bytes"] / len(rules), 1),
        }
    ]
    print_table(prefix_table, "Prefix rules: bytes of their cache structure")
    print_table(prefix_rows, f"Check latency with {len(rules):,} prefix rules (ms)")
    single_p99 = rows[0]["p99_ms"]
    bulk_warm_p99, bulk_cold_p99 = rows[4]["p99_ms"], rows[3]["p99_ms"]
    targets = {
        "bytes_per_number<=16": encoded["bytes_per_number_info"] <= 16,
        "single_check_p99<=3ms": single_p99 <= 3,
        "bulk_1000_p99<=10ms (new numbers)": bulk_cold_p99 <= 10,
        "bulk_1000_p99<=10ms (numbers seen before)": bulk_warm_p99 <= 10,
    }
    raw_bulk_p99, listed_p99 = rows[5]["p99_ms"], rows[1]["p99_ms"]
    ratios = {
        # Issue 14: the API's bulk check of 1,000 never-seen numbers against raw SMISMEMBER,
        # and a listed number's single check against an unlisted one, same run.
        "bulk_new_over_raw_p99": round(bulk_cold_p99 / raw_bulk_p99, 2),
        "bulk_new_over_raw_p50": round(rows[3]["p50_ms"] / rows[5]["p50_ms"], 2),
        "bulk_seen_over_raw_p99": round(bulk_warm_p99 / raw_bulk_p99, 2),
        "bulk_new_none_listed_over_raw_p99": round(rows[6]["p99_ms"] / raw_bulk_p99, 2),
        "single_listed_over_unlisted_p99": round(listed_p99 / single_p99, 2),
        "single_listed_over_unlisted_p50": round(rows[1]["p50_ms"] / rows[0]["p50_ms"], 2),
        "single_listed_again_over_unlisted_p99": round(rows[7]["p99_ms"] / single_p99, 2),
    }
    targets["bulk_new_over_raw_p99<=3"] = ratios["bulk_new_over_raw_p99"] <= 3
    targets["single_listed_over_unlisted_p99<=1.5"] = (
        ratios["single_listed_over_unlisted_p99"] <= 1.5
    )
    print_table(
        [{"ratio": name, "value": value} for name, value in ratios.items()],
        "Issue 14 ratios (API over the raw engine, and listed over unlisted; same run)",
    )
    print("\nratios:", json.dumps(ratios))
    print("\ntargets:", json.dumps(targets))
    return {
        "title": "DNC: cache memory per number and check latency vs raw Redis",
        "numbers_in_cache": len(phones),
        "numbers_in_opensearch": os_count,
        "opensearch_index_seconds": round(os_seconds, 1),
        "encodings_of_buckets": encoded["encodings"],
        "memory": memory,
        "latency": rows,
        "ratio_bytes_plain_over_encoded": round(
            plain["bytes_per_number_info"] / encoded["bytes_per_number_info"], 1
        ),
        "ratios": ratios,
        "targets": targets,
        "prefix_rules": {"memory": prefix_table, "latency": prefix_rows},
        "notes": "Own redis-server 7.0 for clean memory deltas; API under gunicorn (2 workers, "
        "gthread), one keep-alive client connection, sequential requests.",
    }


if __name__ == "__main__":
    main()
