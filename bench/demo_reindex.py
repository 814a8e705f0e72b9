"""Demo: reindex 100k contacts while a client creates, updates and deletes through the API.

    python -m bench.demo_reindex [--count 100000] [--keep]

Everything lives under a `demo-<id>-` index prefix and Redis key prefix and is removed
at the end (unless --keep). Prints the counts before, during and after, checks that
every write the client made is present after the swap, and prints a /metrics sample.
The reindex runs on the clients of `contacts reindex` (the wiring's, background settings).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid

RUN = uuid.uuid4().hex[:6]
os.environ["INDEX_PREFIX"] = f"demo-{RUN}-"
os.environ["REDIS_KEY_PREFIX"] = f"demo:{RUN}:"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("RATE_LIMITS", "default=100000/60")

from opensearchpy import helpers  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402

# The prefixes above must be in the environment before the config is read.
from app import create_app  # noqa: E402
from app.cli.indices import ProgressBar  # noqa: E402
from app.cli.tokens import mint  # noqa: E402
from app.config import Config  # noqa: E402
from app.jobs import config_dict  # noqa: E402
from app.search.documents import to_document  # noqa: E402
from app.search.indices import IndexNames, drop_all, ensure_all  # noqa: E402
from app.search.reindex import reindex  # noqa: E402
from app.services.contacts import ContactService  # noqa: E402
from app.wiring import Wiring  # noqa: E402
from devtools.fakedata import contacts as fake_contacts  # noqa: E402

WORKSPACES = [f"ws_demo{n:03d}" for n in range(200)]
METRIC_PREFIXES = (
    "http_request_duration_seconds_count",
    "opensearch_request_duration_seconds_count",
    "opensearch_errors_total",
    "redis_command_duration_seconds_count",
    "dnc_cache_lookups_total",
    "ratelimit_rejections_total",
)


def load(service: ContactService, count: int) -> list[tuple[str, str]]:
    client = service.client
    ids: list[tuple[str, str]] = []

    def actions():
        for n, row in enumerate(fake_contacts(count, seed=11)):
            contact = service.prepare_new({"workspaceId": WORKSPACES[n % len(WORKSPACES)], **row})
            ids.append((contact["id"], contact["workspaceId"]))
            yield {
                "_index": service.names.write,
                "_id": contact["id"],
                "_routing": contact["workspaceId"],
                "_source": to_document(contact),
            }

    for _ in helpers.parallel_bulk(client, actions(), chunk_size=2000, thread_count=2):
        pass
    client.indices.refresh(index=service.names.read)
    return ids


class ApiWriter(threading.Thread):
    """One API client: 40 % creates, 40 % updates, 20 % deletes, as fast as it can."""

    def __init__(self, app, ids) -> None:
        super().__init__(daemon=True)
        self.http = app.test_client()
        self.auth = {"Authorization": f"Bearer {mint(WORKSPACES, ttl=7200)}"}
        self.live = dict(ids)
        self.expected: dict[str, str | None] = {}
        self.counts = {"create": 0, "update": 0, "delete": 0, "failed": 0}
        self.stop = threading.Event()
        self.rng = random.Random(5)

    def run(self) -> None:
        while not self.stop.is_set():
            roll, op = self.rng.random(), "create"
            try:
                if roll < 0.4:
                    ws, name = self.rng.choice(WORKSPACES), f"Demo{sum(self.counts.values())}"
                    r = self.http.post(
                        "/v1/contacts",
                        json={"workspaceId": ws, "firstName": name},
                        headers=self.auth,
                    )
                    ok = r.status_code == 201
                    if ok:
                        self.live[r.json["data"]["id"]] = ws
                        self.expected[r.json["data"]["id"]] = name
                else:
                    contact_id = self.rng.choice(list(self.live))
                    if roll < 0.8:
                        op, name = "update", f"Upd{sum(self.counts.values())}"
                        r = self.http.patch(
                            f"/v1/contacts/{contact_id}",
                            json={"firstName": name},
                            headers=self.auth,
                        )
                        ok = r.status_code == 200
                        if ok:
                            self.expected[contact_id] = name
                    else:
                        op = "delete"
                        r = self.http.delete(f"/v1/contacts/{contact_id}", headers=self.auth)
                        ok = r.status_code == 204
                        if ok:
                            del self.live[contact_id]
                            self.expected[contact_id] = None
                self.counts[op if ok else "failed"] += 1
            except Exception as exc:  # noqa: BLE001 (counted, reported)
                self.counts["failed"] += 1
                print(f"[demo] write failed: {exc!r}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    wiring = Wiring(config_dict(), background=True)
    search, cache = wiring.opensearch, wiring.redis
    app = create_app(Config)
    names = IndexNames(Config.INDEX_PREFIX, "contacts")
    try:
        ensure_all(search, Config.INDEX_PREFIX)
        started = time.perf_counter()
        ids = load(wiring.contacts, args.count)
        before = search.count(index=names.read)["count"]
        print(f"[demo] loaded {before:,} contacts in {time.perf_counter() - started:.1f}s")
        print(
            f"[demo] BEFORE  {names.read} -> {list(search.indices.get_alias(name=names.read))[0]}"
            f"  count={before:,}"
        )

        writer = ApiWriter(app, ids)
        bar = ProgressBar()
        during: list[str] = []
        copied = {"n": 0}

        def progress(phase, done, total):
            if phase == "copy":
                copied["n"] = done
            bar(phase, done, total)

        def monitor(stop: threading.Event) -> None:
            while not stop.wait(2.0):
                alias_count = search.count(index=names.read)["count"]
                during.append(
                    f"t={time.perf_counter() - t0:5.1f}s  alias count={alias_count:,}  "
                    f"copied={copied['n']:,}  api writes={dict(writer.counts)}"
                )

        writer.start()
        time.sleep(1.0)  # the client is busy before the reindex starts
        stop_monitor = threading.Event()
        t0 = time.perf_counter()
        threading.Thread(target=monitor, args=(stop_monitor,), daemon=True).start()
        result = reindex(
            search,
            cache,
            Config.INDEX_PREFIX,
            Config.REDIS_KEY_PREFIX,
            "contacts",
            progress=progress,
        )
        time.sleep(1.0)  # and keeps writing after the swap
        stop_monitor.set()
        writer.stop.set()
        writer.join(timeout=30)

        print("[demo] DURING")
        for line in during:
            print(f"         {line}")
        print(f"[demo] reindex {result.as_dict()}")
        search.indices.refresh(index=names.read)
        after = search.count(index=names.read)["count"]
        live_index = list(search.indices.get_alias(name=names.read))[0]
        print(
            f"[demo] AFTER   {names.read} -> {live_index}  count={after:,}  "
            f"expected={len(writer.live):,}  api writes={writer.counts}"
        )

        service = wiring.contacts
        wrong = 0
        for contact_id, name in writer.expected.items():
            try:
                got = service.get(contact_id, WORKSPACES, annotate=False).contact["firstName"]
            except Exception:  # noqa: BLE001 (NotFound: deleted)
                got = None
            wrong += got != name
        print(
            f"[demo] checked {len(writer.expected):,} contacts the client wrote: "
            f"{wrong} lost or stale; count {'matches' if after == len(writer.live) else 'DIFFERS'}"
        )

        # The demo's own process registry: what /metrics serves to a scraper with the token.
        metrics = generate_latest().decode().splitlines()
        print("[demo] /metrics sample")
        for line in metrics:
            if line.startswith(METRIC_PREFIXES):
                print(f"         {line}")
    finally:
        if not args.keep:
            drop_all(search, Config.INDEX_PREFIX)
            keys = list(cache.scan_iter(match=f"{Config.REDIS_KEY_PREFIX}*", count=1000))
            if keys:
                cache.delete(*keys)
            print(f"[demo] removed {Config.INDEX_PREFIX}* indices and {len(keys)} Redis keys")


if __name__ == "__main__":
    main()
