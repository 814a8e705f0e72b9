"""Change feed under write load: does a follower keep up with 1,000 writes/s, with no gap?

Writers write contacts at a target rate for a bounded time (bulks of `--batch`, the path
of imports and batch calls: one announcement, one `_bulk`, one change bulk per call)
while a follower tails the feed (ChangeLog.events_after, what GET /v1/contacts/changes
serves). Reported: the achieved write rate, the follower's lag (from a write's
acknowledgement to the follower holding its change) p50/p99, and gaps (acknowledged
writes the follower never saw) and repeats.

Beside it, the raw engine on the same documents at the same rate: plain `_bulk` with no
change recording, followed the way one would without a feed, by polling a search on
`updatedAt` (visible after the index refresh). Its lag is the refresh interval's; its
gap count shows why a timestamp poll is not a feed (writes stored with an older
`updatedAt` than one already read are skipped).

A second row pair: single-contact writes (ContactService.create per write) unpaced at
`--single-threads`, to show what the per-write recording costs next to plain index calls.

python -m bench.feed [--rate 1000] [--seconds 20] [--batch 50] [--writers 4]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from app.config import Config
from app.search.documents import to_document, utc_now
from app.services.changes import ChangeLog, contact_entries
from app.services.contacts import ContactService
from app.wiring import redis_client
from bench.benchlib import percentile, print_table, scratch_indices, write_result
from devtools.fakedata import contacts as fake_contacts

RUN = uuid.uuid4().hex[:6]
PREFIX = f"bench-feed-{RUN}-"
REDIS_PREFIX = f"bench-feed:{RUN}:"


class Clock:
    """Acknowledgement and first-seen times per contact id, and the follower's tally."""

    def __init__(self) -> None:
        self.acked: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.repeats = 0
        self.lock = threading.Lock()

    def ack(self, ids: list[str]) -> None:
        now = time.perf_counter()
        with self.lock:
            for contact_id in ids:
                self.acked[contact_id] = now

    def saw(self, ids: list[str]) -> None:
        now = time.perf_counter()
        with self.lock:
            for contact_id in ids:
                if contact_id in self.seen:
                    self.repeats += 1
                else:
                    self.seen[contact_id] = now

    def row(self, name: str, seconds: float) -> dict:
        lags = [(self.seen[i] - t) * 1000 for i, t in self.acked.items() if i in self.seen]
        return {
            "path": name,
            "writes": len(self.acked),
            "writes_per_s": round(len(self.acked) / seconds),
            "lag_p50_ms": round(percentile(lags, 50), 1) if lags else None,
            "lag_p99_ms": round(percentile(lags, 99), 1) if lags else None,
            "gaps": sum(1 for i in self.acked if i not in self.seen),
            "repeats": self.repeats,
        }


def paced_writers(rate: float, seconds: float, writers: int, batch: int, write) -> float:
    """Call write(batch_no) from `writers` threads at `rate` documents/s in total."""
    interval = batch * writers / rate
    deadline = time.perf_counter() + seconds

    def run(worker: int) -> None:
        next_at, n = time.perf_counter(), 0
        while next_at < deadline:
            write(worker * 1_000_000 + n)
            n += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(run, range(writers)))
    return time.perf_counter() - started


def documents(service: ContactService, workspace: str, count: int) -> list[dict]:
    rows = fake_contacts(count, seed=11)
    return [service.prepare_new({"workspaceId": workspace, **row}) for row in rows]


def follow(stop: threading.Event, step) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            if not step():
                time.sleep(0.005)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and step():
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def bulk_body(service: ContactService, workspace: str, docs: list[dict]) -> list[dict]:
    body: list[dict] = []
    for doc in docs:
        body.append({"index": {"_id": doc["id"], "routing": workspace}})
        body.append(to_document(doc))
    return body


def run_feed(client, changes, service, workspace, pool, args) -> dict:
    clock, cursor = Clock(), {"after": 0}
    service.client.indices.refresh(index=changes.names.write)

    def write(n: int) -> None:
        docs = pool[(n * args.batch) % len(pool) :][: args.batch]
        docs = [{**d, "id": f"{d['id']}-{n}"} for d in docs]
        entries = contact_entries("created", docs)
        token = changes.begin(workspace, entries)
        client.bulk(index=service.names.write, body=bulk_body(service, workspace, docs))
        changes.commit(workspace, token, entries)
        clock.ack([d["id"] for d in docs])

    def step() -> bool:
        events, cursor["after"] = changes.events_after(workspace, cursor["after"], 1000)
        clock.saw([e["contactId"] for e in events])
        return bool(events)

    stop = threading.Event()
    follower = follow(stop, step)
    seconds = paced_writers(args.rate, args.seconds, args.writers, args.batch, write)
    stop.set()
    follower.join()
    return clock.row(f"feed: bulks of {args.batch}", seconds)


def run_raw(client, service, workspace, pool, args) -> dict:
    clock, last = Clock(), {"at": ""}

    def write(n: int) -> None:
        docs = pool[(n * args.batch) % len(pool) :][: args.batch]
        docs = [{**d, "id": f"{d['id']}-raw{n}"} for d in docs]
        for doc in docs:
            doc["updatedAt"] = utc_now()
        client.bulk(index=service.names.write, body=bulk_body(service, workspace, docs))
        clock.ack([d["id"] for d in docs])

    def step() -> bool:
        result = client.search(
            index=service.names.read,
            routing=workspace,
            body={
                "query": {"range": {"updatedAt": {"gt": last["at"] or "1970-01-01"}}},
                "sort": [{"updatedAt": "asc"}, {"id": "asc"}],
                "size": 1000,
                "_source": ["id", "updatedAt"],
            },
        )
        hits = result["hits"]["hits"]
        if hits:
            last["at"] = hits[-1]["_source"]["updatedAt"]
        clock.saw([h["_source"]["id"] for h in hits])
        return bool(hits)

    stop = threading.Event()
    follower = follow(stop, step)
    seconds = paced_writers(args.rate, args.seconds, args.writers, args.batch, write)
    stop.set()
    follower.join()
    return clock.row(f"raw _bulk of {args.batch} + updatedAt poll", seconds)


def run_single(client, changes, service, workspace, pool, args, *, record: bool) -> dict:
    clock, cursor = Clock(), {"after": changes.head(workspace)}
    tag = "single" if record else "raw-single"
    count = args.single_count

    def write(n: int) -> None:
        doc = {**pool[n % len(pool)], "id": f"{pool[n % len(pool)]['id']}-{tag}{n}"}
        if record:
            entries = contact_entries("created", [doc])
            token = changes.begin(workspace, entries)
        client.index(
            index=service.names.write, id=doc["id"], routing=workspace, body=to_document(doc)
        )
        if record:
            changes.commit(workspace, token, entries)
        clock.ack([doc["id"]])

    def step() -> bool:
        events, cursor["after"] = changes.events_after(workspace, cursor["after"], 1000)
        clock.saw([e["contactId"] for e in events])
        return bool(events)

    stop = threading.Event()
    follower = follow(stop, step) if record else None
    started = time.perf_counter()
    with ThreadPoolExecutor(args.single_threads) as threads:
        list(threads.map(write, range(count)))
    seconds = time.perf_counter() - started
    stop.set()
    if follower:
        follower.join()
        return clock.row(f"feed: single writes, {args.single_threads} threads", seconds)
    row = clock.row(f"raw index calls, {args.single_threads} threads", seconds)
    row.update(lag_p50_ms="-", lag_p99_ms="-", gaps="-", repeats="-")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000, help="target writes/s")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--single-count", type=int, default=1500)
    parser.add_argument("--single-threads", type=int, default=8)
    args = parser.parse_args()

    cache = redis_client({"REDIS_URL": Config.REDIS_URL})
    with scratch_indices(PREFIX, pool_size=args.writers + 4) as client:
        changes = ChangeLog(client, cache, PREFIX, REDIS_PREFIX, cursor_key="bench-key")
        service = ContactService(client, PREFIX)
        pool = documents(service, "ws_benchfeed", 5000)
        try:
            rows = [
                run_feed(client, changes, service, "ws_benchfeed", pool, args),
                run_raw(client, service, "ws_benchraw", pool, args),
                run_single(client, changes, service, "ws_benchfeed", pool, args, record=True),
                run_single(client, changes, service, "ws_benchraw", pool, args, record=False),
            ]
        finally:
            for key in cache.scan_iter(match=f"{REDIS_PREFIX}*", count=1000):
                cache.delete(key)
    title = (
        f"Change feed at a target of {args.rate:.0f} writes/s for {args.seconds:.0f} s "
        f"({args.writers} writers)"
    )
    print_table(rows, title)
    feed, raw = rows[0], rows[1]
    targets = {
        f"the follower missed no write (gaps {feed['gaps']}, repeats {feed['repeats']})": (
            feed["gaps"] == 0 and feed["repeats"] == 0
        ),
        f"writers reached {args.rate:.0f} writes/s (feed {feed['writes_per_s']}/s, raw "
        f"_bulk {raw['writes_per_s']}/s on the same machine)": feed["writes_per_s"]
        >= 0.95 * args.rate,
    }
    write_result("feed", {"title": title, "args": vars(args), "rows": rows, "targets": targets})


if __name__ == "__main__":
    main()
