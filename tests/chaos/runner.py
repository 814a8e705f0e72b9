"""A randomized, fault-injecting run of the DNC API against the real servers.

Setup: a redis-server of the run's own (AOF with appendfsync everysec, as production,
so a kill -9 may lose the last second) behind one FaultProxy, the shared OpenSearch
behind another, and two app instances (two API processes) talking through the
proxies. Client threads run random DNC adds, deletes, single and bulk checks, contact
creates and reads, contact and DNC CSV imports and `dnc`-filtered searches against a
handful of numbers, each typed in many forms, and record every answer in a History.
Prefix rules join them: a client lists or removes the prefix of a number's block
(`+1415555 01`, covering its 100 numbers), mostly with an expiry a few seconds away, so
reads are held to the rule until its expiry and never after (tests/chaos/checker.py).
A fault thread meanwhile kills and restarts Redis, wipes it, delays, drops or cuts
either proxy's traffic and runs cache rebuilds.

Afterwards the proxies heal, the service reconciles (or rebuilds) the cache, and the
run verifies, reading Redis and OpenSearch directly, that the cache equals the
record. The History is checked against the invariant (tests/chaos/checker.py).

    python -m tests.chaos.runner   # CHAOS_SECONDS, CHAOS_SEED, CHAOS_CLIENTS
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlparse

import redis
from opensearchpy import OpenSearch

from app import create_app, services
from app.cli.tokens import mint
from app.config import TestConfig
from app.search.indices import IndexNames, drop_all, ensure_all
from app.services.dnc_builds import workspace_query
from app.services.dnc_rules import descriptors, rule_query
from tests.chaos import checker
from tests.chaos.history import History
from tests.chaos.numbers import forms, tag_of
from tests.chaos.proxy import FaultProxy
from tests.servers import OwnRedis

SCOPES = "contacts:read contacts:write dnc:read dnc:write"
OPENSEARCH_URL = os.environ.get("CHAOS_OPENSEARCH_URL", "http://127.0.0.1:9200")
# Failed deletes are assumed to have landed within this many seconds of their answer
# in the report's stricter, bounded reading (clients time out after 2 s).
SETTLE_SECONDS = 10.0
SEARCH_CONTACTS_PER_NUMBER = 30
NUMBERS_AT_A_TIME = 6
# A failed delete excuses its number for the rest of the run (it may land at any time),
# so a long run moves to fresh numbers every epoch to keep the check from going vacuous.
EPOCH_SECONDS = float(os.environ.get("CHAOS_EPOCH_SECONDS", "30"))
MAX_EPOCHS = 100
AREA_CODES = ("415", "212", "312", "646", "718", "206", "617", "303")

# Op kind -> weight.
OPS = {
    "dnc.add": 14,
    "dnc.delete": 10,
    "check.single": 18,
    "check.bulk": 12,
    "contact.create_get": 10,
    "contact.create_searchable": 5,
    "search": 12,
    "contacts.import": 4,
    "dnc.import": 4,
    "dnc.prefix_add": 6,
    "dnc.prefix_delete": 3,
    "calling.window": 6,
}
# Prefix rules carry an expiry this many seconds away (or none, one time in EXPIRY_NONE).
EXPIRY_SECONDS = (1.0, 6.0)
EXPIRY_NONE = 4


def chaos_numbers(rng: random.Random, count: int = 6) -> list[str]:
    """Distinct valid US numbers (555-01xx lines are reserved for fiction), in draw order."""
    numbers: dict[str, None] = {}
    while len(numbers) < count:
        numbers[f"+1{rng.choice(AREA_CODES)}55501{rng.randrange(100):02d}"] = None
    return list(numbers)


def app_for(opensearch_url: str, redis_url: str, index_prefix: str, key_prefix: str, tmp: Path):
    class ChaosConfig(TestConfig):
        OPENSEARCH_HOSTS = [opensearch_url]
        OPENSEARCH_TIMEOUT = 2.0
        REDIS_URL = redis_url
        INDEX_PREFIX = index_prefix
        REDIS_KEY_PREFIX = key_prefix
        IMPORT_DIR = str(tmp / "imports")
        LOG_LEVEL = "CRITICAL"
        METRICS_ENABLED = False

    app = create_app(ChaosConfig)
    # Thousands of expected transport failures would drown the report.
    for name in ("opensearch", "urllib3", "app"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if os.environ.get("CHAOS_ERROR_LOG"):  # unexpected errors with their stack, for diagnosis
        handler = logging.FileHandler(os.environ["CHAOS_ERROR_LOG"])
        logging.getLogger("app.errors").addHandler(handler)
        logging.getLogger("app.errors").setLevel(logging.ERROR)
    return app


def outcome_of_write(status: int | None) -> str:
    if status is not None and 200 <= status < 300:
        return "ok"
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return "rejected"
    return "fail"


def answer_of(flag) -> str:
    """A `dnc` flag as the checker's read outcome."""
    if flag is True:
        return "listed"
    if flag is False:
        return "callable"
    return "unknown"


class Stack:
    """The run's servers, proxies and the two app instances."""

    def __init__(self, tmp: Path, opensearch_url: str) -> None:
        self.tmp = tmp
        run = uuid.uuid4().hex[:8]
        self.index_prefix, self.key_prefix = f"chaos-{run}-", f"chaos:{run}:"
        self.redis = OwnRedis(tmp / "redis", persist=True, fsync="everysec")
        (tmp / "redis").mkdir(parents=True, exist_ok=True)
        self.redis.start()
        target = urlparse(opensearch_url)
        self.opensearch = OpenSearch(hosts=[opensearch_url], timeout=30)
        ensure_all(self.opensearch, self.index_prefix)
        self.redis_proxy = FaultProxy("127.0.0.1", self.redis.port).start()
        self.opensearch_proxy = FaultProxy(target.hostname, target.port or 9200).start()
        self.apps = [
            app_for(
                f"http://127.0.0.1:{self.opensearch_proxy.port}",
                f"redis://127.0.0.1:{self.redis_proxy.port}/0",
                self.index_prefix,
                self.key_prefix,
                tmp,
            )
            for _ in range(2)
        ]

    @property
    def proxies(self) -> dict[str, FaultProxy]:
        return {"redis": self.redis_proxy, "opensearch": self.opensearch_proxy}

    def direct_redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url, socket_timeout=10)

    def ensure_redis_up(self) -> None:
        if self.redis.process is None or self.redis.process.poll() is not None:
            self.redis.start()

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        self.redis.stop()
        try:
            drop_all(self.opensearch, self.index_prefix)
        except Exception as exc:  # leave the run's report intact; say what was left behind
            print(f"chaos: could not drop indices {self.index_prefix}*: {exc}", file=sys.stderr)


class Client(threading.Thread):
    """One API user: random requests until told to stop, each recorded in the History."""

    def __init__(self, name: str, run: Run, app, rng: random.Random) -> None:
        super().__init__(name=name, daemon=True)
        self.run_, self.http, self.rng = run, app.test_client(), rng
        self.ops: Counter = Counter()

    # --- plumbing -----------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs):
        """(status or None, JSON body or None, invoke, complete)."""
        invoke = History.now()
        try:
            response = self.http.open(url, method=method, headers=self.run_.auth, **kwargs)
            status, body = response.status_code, response.get_json(silent=True)
        except Exception as exc:  # an unhandled error in the app counts as no answer
            status, body = None, {"exception": f"{type(exc).__name__}: {exc}"}
        if status is None or (status >= 500 and status != 503):
            self.run_.unexpected(method, url, status, body)
        return status, body, invoke, History.now()

    def form(self, number: str, region: str = "US") -> tuple[str, str]:
        style, text = self.rng.choice(sorted(forms(number, region).items()))
        return style, text

    def region(self) -> str:
        return "AU" if self.rng.random() < 0.15 else "US"

    def record(self, kind, number, invoke, complete, outcome, via, **detail) -> None:
        self.run_.history.record(self.name, kind, number, invoke, complete, outcome, via, **detail)

    def refused(self, style: str, status: int | None) -> None:
        if status is not None and 400 <= status < 500:
            self.run_.refused_forms[style] += 1

    # --- the loop -----------------------------------------------------------------

    def run(self) -> None:
        kinds, weights = zip(*OPS.items(), strict=True)
        while not self.run_.stopping.is_set():
            kind = self.rng.choices(kinds, weights)[0]
            self.ops[kind] += 1
            getattr(self, kind.replace(".", "_"))(self.rng.choice(self.run_.current()))

    # --- DNC writes ---------------------------------------------------------------

    def dnc_add(self, number: str) -> None:
        region = self.region()
        style, text = self.form(number, region)
        body = {"workspaceId": self.run_.ws, "phone": text, "reason": "chaos"}
        if region != "US":
            body["defaultCountry"] = region
        status, _, invoke, complete = self.request("POST", "/v1/dnc", json=body)
        self.refused(style, status)
        outcome = outcome_of_write(status)
        self.record("add", number, invoke, complete, outcome, "dnc.add", form=style)

    def dnc_delete(self, number: str) -> None:
        region = self.region()
        style, text = self.form(number, region)
        url = f"/v1/dnc/{quote(text, safe='')}?workspaceId={self.run_.ws}&defaultCountry={region}"
        status, _, invoke, complete = self.request("DELETE", url)
        outcome = outcome_of_write(status)
        self.record("delete", number, invoke, complete, outcome, "dnc.delete", form=style)

    def covered(self, prefix: str) -> list[str]:
        return [n for n in self.run_.current() if n.startswith(prefix)]

    def dnc_prefix_add(self, number: str) -> None:
        prefix = number[:-2]
        body = {"workspaceId": self.run_.ws, "rule": "prefix", "prefix": prefix, "reason": "chaos"}
        detail = {}
        if self.rng.randrange(EXPIRY_NONE):
            seconds = self.rng.uniform(*EXPIRY_SECONDS)
            wall, mono = time.time(), History.now()
            moment = datetime.fromtimestamp(wall + seconds, UTC)
            body["expiresAt"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            # The server keeps milliseconds: the expiry read back may be up to 1 ms earlier.
            detail["expires"] = mono + seconds - 0.001
        status, _, invoke, complete = self.request("POST", "/v1/dnc", json=body)
        outcome = outcome_of_write(status)
        for covered in self.covered(prefix):
            key = f"{covered}#{prefix}"
            self.record("add", key, invoke, complete, outcome, "dnc.prefix_add", **detail)

    def dnc_prefix_delete(self, number: str) -> None:
        prefix = number[:-2]
        url = f"/v1/dnc/{quote(prefix, safe='')}?workspaceId={self.run_.ws}&rule=prefix"
        status, _, invoke, complete = self.request("DELETE", url)
        outcome = outcome_of_write(status)
        for covered in self.covered(prefix):
            key = f"{covered}#{prefix}"
            self.record("delete", key, invoke, complete, outcome, "dnc.prefix_delete")

    def dnc_import(self, _number: str) -> None:
        chosen = self.rng.sample(self.run_.current(), self.rng.randint(1, 3))
        rows = {number: self.form(number) for number in chosen}
        csv = "phone\n" + "".join(f"{text}\n" for _, text in rows.values())
        url = f"/v1/dnc/import?workspaceId={self.run_.ws}&reason=chaos"
        status, body, invoke, complete = self.request(
            "POST", url, data=csv.encode(), content_type="text/csv"
        )
        outcome = outcome_of_write(status)
        refused = set()
        if outcome == "ok":
            refused = {error.get("value") for error in body["data"].get("errors") or []}
        for number, (style, text) in rows.items():
            if text in refused:
                self.run_.refused_forms[style] += 1
                self.record("add", number, invoke, complete, "rejected", "dnc.import", form=style)
            else:
                self.record("add", number, invoke, complete, outcome, "dnc.import", form=style)

    # --- checks -------------------------------------------------------------------

    def check_single(self, number: str) -> None:
        region = self.region()
        style, text = self.form(number, region)
        url = f"/v1/dnc/check?workspaceId={self.run_.ws}&defaultCountry={region}&phone=" + quote(
            text, safe=""
        )
        status, body, invoke, complete = self.request("GET", url)
        flag = body["data"].get("dnc") if status == 200 else None
        self.record("read", number, invoke, complete, answer_of(flag), "check.single", form=style)

    def check_bulk(self, _number: str) -> None:
        region = self.region()
        picks = [self.rng.choice(self.run_.current()) for _ in range(self.rng.randint(2, 6))]
        asked = [(number, *self.form(number, region)) for number in picks]
        body = {
            "workspaceId": self.run_.ws,
            "phones": [text for _, _, text in asked],
            "defaultCountry": region,
        }
        status, answer, invoke, complete = self.request("POST", "/v1/dnc/check", json=body)
        results = answer["data"] if status == 200 else [{}] * len(asked)
        for (number, style, _), result in zip(asked, results, strict=True):
            flag = result.get("dnc")
            self.record("read", number, invoke, complete, answer_of(flag), "check.bulk", form=style)

    def calling_window(self, number: str) -> None:
        """A dialer's "may I call now": `allowed` true is a claim that the number is not
        listed, whatever the clock says; otherwise the answer's own `dnc` is the claim."""
        region = self.region()
        style, text = self.form(number, region)
        body = {"workspaceId": self.run_.ws, "phones": [text], "defaultCountry": region}
        status, answer, invoke, complete = self.request("POST", "/v1/calling-window", json=body)
        item = answer["data"][0] if status == 200 else {}
        outcome = "callable" if item.get("allowed") is True else answer_of(item.get("dnc"))
        self.record("read", number, invoke, complete, outcome, "calling.window", form=style)

    # --- contacts -----------------------------------------------------------------

    def create_contact(self, number: str, *, searchable: bool):
        style, text = self.form(number)
        body = {"workspaceId": self.run_.ws, "firstName": "Chaos", "lastName": number[-4:]}
        body["phone"] = text
        url = "/v1/contacts"
        if searchable:
            body["tags"] = [tag_of(number)]
            url += "?refresh=wait_for"
        status, answer, invoke, complete = self.request("POST", url, json=body)
        self.refused(style, status)
        if status != 201:
            return None, complete
        contact = answer["data"]
        if "dnc" in contact:
            outcome = answer_of(contact["dnc"])
            self.record("read", number, invoke, complete, outcome, "contact.create", form=style)
        return contact["id"], complete

    def contact_create_get(self, number: str) -> None:
        contact_id, _ = self.create_contact(number, searchable=False)
        if contact_id is None:
            return
        status, body, invoke, complete = self.request("GET", f"/v1/contacts/{contact_id}")
        flag = body["data"].get("dnc") if status == 200 else None
        self.record("read", number, invoke, complete, answer_of(flag), "contact.get")

    def contact_create_searchable(self, number: str) -> None:
        with self.run_.lock:
            full = len(self.run_.searchable[number]) >= SEARCH_CONTACTS_PER_NUMBER
        if full:
            return self.search(number)
        contact_id, complete = self.create_contact(number, searchable=True)
        if contact_id is not None:
            with self.run_.lock:
                self.run_.searchable[number].append((contact_id, complete))

    def contacts_import(self, _number: str) -> None:
        chosen = self.rng.sample(self.run_.current(), self.rng.randint(1, 3))
        csv = "firstName,lastName,phone,tags\n" + "".join(
            f"Chaos,Import,{self.form(number)[1]},{tag_of(number)}\n" for number in chosen
        )
        url = f"/v1/contacts/import?workspaceId={self.run_.ws}&onDuplicate=create"
        status, *_ = self.request("POST", url, data=csv.encode(), content_type="text/csv")
        self.run_.imports[status] += 1

    def search(self, number: str) -> None:
        """`filters.dnc` over this number's contacts (tagged), and the hits' own flags."""
        listed_filter = self.rng.random() < 0.5
        via = "search.dnc_true" if listed_filter else "search.dnc_false"
        body = {
            "workspaceId": self.run_.ws,
            "query": "",
            "filters": {"dnc": listed_filter, "tags": {"any": [tag_of(number)]}},
            "limit": 100,
        }
        started = History.now()
        with self.run_.lock:  # searchable: written with refresh=wait_for before we began
            known = {cid for cid, done in self.run_.searchable[number] if done < started}
        status, answer, invoke, complete = self.request("POST", "/v1/contacts/search", json=body)
        if status != 200:
            self.record("read", number, invoke, complete, "unknown", via)
            return
        hits = answer["data"]
        if hits:  # the hits' own `dnc` flags: one answer per search, the worst of them
            flags = {answer_of(hit.get("dnc")) for hit in hits}
            worst = next(o for o in ("callable", "unknown", "listed") if o in flags)
            self.record("read", number, invoke, complete, worst, "search.hit_flag")
        returned = {hit["id"] for hit in hits}
        if listed_filter:
            missing = known - returned
            if missing:  # a contact of this number is not among the listed ones
                outcome = "callable"
                why = self.diagnose(missing, len(hits))
                self.record("read", number, invoke, complete, outcome, via, **why)
            elif hits:
                self.record("read", number, invoke, complete, "listed", via)
        elif hits:  # a contact of this number is among the callable ones
            self.record("read", number, invoke, complete, "callable", via, hits=len(hits))
        elif known:
            self.record("read", number, invoke, complete, "listed", via)

    def diagnose(self, missing: set[str], returned: int) -> dict:
        """For a report: the missing contacts' indexed flags, read from the engine now."""
        detail = {"missing": len(missing), "returned": returned}
        try:
            stack = self.run_.stack
            docs = stack.opensearch.mget(
                index=f"{stack.index_prefix}contacts",
                body={"docs": [{"_id": i, "routing": self.run_.ws} for i in sorted(missing)]},
                _source_includes=["dnc", "phone"],
            )["docs"]
            flags = Counter(str(d.get("_source", {}).get("dnc")) for d in docs)
            detail["indexed_flags_now"] = dict(flags)
        except Exception as exc:  # a diagnosis must never fail the run
            detail["indexed_flags_now"] = type(exc).__name__
        return detail


class Faults(threading.Thread):
    """Random faults until told to stop; every fault is undone before the next one."""

    def __init__(self, run: Run, rng: random.Random) -> None:
        super().__init__(name="faults", daemon=True)
        self.run_, self.rng = run, rng
        self.injected: Counter = Counter()
        self.rebuilds: Counter = Counter()
        self._rebuild: threading.Thread | None = None

    def pause(self, low: float, high: float) -> None:
        self.run_.stopping.wait(self.rng.uniform(low, high))

    def run(self) -> None:
        stack = self.run_.stack
        choices = {
            "redis.kill9_restart": 3,
            "redis.wipe": 2,
            "redis.drop_replies": 2,
            "redis.delay": 2,
            "redis.cut": 2,
            "opensearch.drop_replies": 2,
            "opensearch.delay": 2,
            "opensearch.cut": 2,
            "cache.rebuild": 3,
        }
        kinds, weights = zip(*choices.items(), strict=True)
        try:
            self.pause(0.5, 1.5)
            while not self.run_.stopping.is_set():
                kind = self.rng.choices(kinds, weights)[0]
                self.injected[kind] += 1
                target, action = kind.split(".")
                if kind == "redis.kill9_restart":
                    stack.redis.stop()
                    self.pause(0.2, 1.5)
                    stack.redis.start()
                elif kind == "redis.wipe":
                    stack.redis.wipe()
                elif kind == "cache.rebuild":
                    self.start_rebuild()
                else:
                    proxy = stack.proxies[target]
                    delay = self.rng.uniform(0.05, 2.5) if action == "delay" else 0.0
                    proxy.set_mode(action, delay)
                    self.pause(0.3, 2.5)
                    proxy.heal()
                # Quiet spells between faults: reads there are held to the invariant
                # without a failed write to excuse them.
                self.pause(1.0, 4.0)
        finally:
            for proxy in stack.proxies.values():
                proxy.heal()
            stack.ensure_redis_up()
            if self._rebuild:
                self._rebuild.join(timeout=60)

    def start_rebuild(self) -> None:
        if self._rebuild and self._rebuild.is_alive():
            return
        app = self.rng.choice(self.run_.stack.apps)

        def rebuild() -> None:
            try:
                with app.app_context():
                    result = services.dnc().rebuild(self.run_.ws)
                self.rebuilds["busy" if result is None else "done"] += 1
            except Exception as exc:
                self.rebuilds[f"failed:{type(exc).__name__}"] += 1

        self._rebuild = threading.Thread(target=rebuild, name="rebuild", daemon=True)
        self._rebuild.start()


class Run:
    def __init__(self, stack: Stack, seed: int) -> None:
        rng = random.Random(seed)
        self.stack, self.seed = stack, seed
        self.ws = f"ws_chaos{seed % 10**6}_{uuid.uuid4().hex[:8]}"
        self.pool = chaos_numbers(rng, NUMBERS_AT_A_TIME * MAX_EPOCHS)
        self.started = time.monotonic()
        self.auth = {"Authorization": f"Bearer {mint([self.ws], SCOPES, ttl=24 * 3600)}"}
        self.history = History()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.searchable: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.refused_forms: Counter = Counter()
        self.imports: Counter = Counter()
        self.errors: Counter = Counter()
        self.error_examples: list[dict] = []

    def current(self) -> list[str]:
        """This epoch's numbers."""
        epoch = min(int((time.monotonic() - self.started) / EPOCH_SECONDS), MAX_EPOCHS - 1)
        return self.pool[epoch * NUMBERS_AT_A_TIME : (epoch + 1) * NUMBERS_AT_A_TIME]

    @property
    def numbers(self) -> list[str]:
        """Every number the run has used so far."""
        epochs = min(int((time.monotonic() - self.started) / EPOCH_SECONDS) + 1, MAX_EPOCHS)
        return self.pool[: epochs * NUMBERS_AT_A_TIME]

    def unexpected(self, method: str, url: str, status: int | None, body) -> None:
        """An answer that is neither success, a 4xx nor a 503: a bug worth a look."""
        path = url.split("?")[0]
        path = "/v1/dnc/<phone>" if method == "DELETE" else path
        path = "/v1/contacts/<id>" if path.startswith("/v1/contacts/contact_") else path
        with self.lock:
            self.errors[f"{method} {path} {status}"] += 1
            if len(self.error_examples) < 10:
                self.error_examples.append({"request": f"{method} {url}", "status": status})
                self.error_examples[-1]["body"] = body


# --- verification ----------------------------------------------------------------------


def cache_numbers(client: redis.Redis, key_prefix: str, ws: str) -> set[str] | None:
    """The live cache generation decoded straight from Redis; None when none is live."""
    base = f"{key_prefix}dnc:{{{ws}}}"
    meta = {k.decode(): v.decode() for k, v in client.hgetall(f"{base}:meta").items()}
    if "gen" not in meta or "bits" not in meta:
        return None
    gen, bits = meta["gen"], int(meta["bits"])
    numbers: set[str] = set()
    buckets = range(2**bits)
    for start in range(0, len(buckets), 1_000):
        chunk = buckets[start : start + 1_000]
        pipe = client.pipeline(transaction=False)
        for bucket in chunk:
            pipe.smembers(f"{base}:{gen}:{bucket:x}")
        for bucket, members in zip(chunk, pipe.execute(), strict=True):
            numbers.update(f"+{(int(member) << bits) | bucket}" for member in members)
    return numbers


def record_numbers(client: OpenSearch, index_prefix: str, ws: str) -> set[str]:
    """The record's entries the intsets hold (exact, workspace-wide, all channels, no expiry)."""
    alias = IndexNames(index_prefix, "dnc").read
    client.indices.refresh(index=alias)
    result = client.search(
        index=alias,
        routing=ws,
        body={"query": workspace_query(ws), "size": 10_000, "_source": ["phone"]},
    )
    return {hit["_source"]["phone"] for hit in result["hits"]["hits"]}


def cache_rules(client: redis.Redis, key_prefix: str, ws: str) -> dict[str, str]:
    base = f"{key_prefix}dnc:{{{ws}}}"
    gen = client.hget(f"{base}:meta", "gen")
    if gen is None:
        return {}
    raw = client.hgetall(f"{base}:{gen.decode()}:rules")
    return {k.decode(): v.decode() for k, v in raw.items()}


def record_rules(client: OpenSearch, index_prefix: str, ws: str) -> dict[str, str]:
    alias = IndexNames(index_prefix, "dnc").read
    result = client.search(index=alias, routing=ws, body={"query": rule_query(ws), "size": 10_000})
    return descriptors([hit["_source"] for hit in result["hits"]["hits"]])


def compare(stack: Stack, ws: str) -> dict:
    cache = cache_numbers(stack.direct_redis(), stack.key_prefix, ws)
    record = record_numbers(stack.opensearch, stack.index_prefix, ws)
    rules_cached = cache_rules(stack.direct_redis(), stack.key_prefix, ws)
    rules_record = record_rules(stack.opensearch, stack.index_prefix, ws)
    if cache is None:
        return {"live_cache": False, "equal": False, "record": sorted(record)}
    rules_differ = sorted(
        f
        for f in rules_cached.keys() | rules_record.keys()
        if rules_cached.get(f) != rules_record.get(f)
    )
    return {
        "live_cache": True,
        "equal": cache == record and not rules_differ,
        "record": sorted(record),
        "cache_only": sorted(cache - record),
        "record_only": sorted(record - cache),
        "rules_differ": rules_differ,
    }


def repair(stack: Stack, ws: str) -> str:
    """Reconcile when the service can; else (or if it fails) rebuild, waiting out a busy one."""
    app = stack.apps[0]
    deadline = time.monotonic() + 60
    with app.app_context():
        service = services.dnc()
        failure = ""
        try:
            services.dnc_reconciler().reconcile(ws, grace=0, full=True)
            return "reconcile"
        except Exception as exc:
            failure = f"reconcile failed ({type(exc).__name__}: {exc}); "
        while time.monotonic() < deadline:
            if service.rebuild(ws) is not None:
                return failure + "rebuild"
            time.sleep(0.5)
    return failure + "rebuild busy"


def wait_for_redis(stack: Stack, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            stack.direct_redis().ping()
            return
        except redis.RedisError:
            time.sleep(0.2)
    raise RuntimeError("the run's redis-server did not come back")


# --- the run -----------------------------------------------------------------------------


def run(
    seed: int,
    duration_s: float,
    clients: int = 6,
    *,
    opensearch_url: str = OPENSEARCH_URL,
    settle: float = SETTLE_SECONDS,
) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
    stack = Stack(tmp, opensearch_url)
    try:
        chaos = Run(stack, seed)
        workers = [
            Client(f"c{i}", chaos, stack.apps[i % 2], random.Random(seed * 1_000 + i))
            for i in range(clients)
        ]
        faults = Faults(chaos, random.Random(seed))
        started = chaos.started = time.monotonic()
        for thread in (*workers, faults):
            thread.start()
        chaos.stopping.wait(duration_s)
        chaos.stopping.set()
        for thread in (*workers, faults):
            thread.join(timeout=60)
        elapsed = time.monotonic() - started
        wait_for_redis(stack)
        time.sleep(2)  # background builds the checks scheduled finish or give up
        before = compare(stack, chaos.ws)
        repaired_by = repair(stack, chaos.ws)
        after = compare(stack, chaos.ws)
        ops = chaos.history.ops()
        strict = checker.check(ops)
        bounded = checker.check(ops, settle=settle)
        result = report(chaos, workers, faults, ops, strict, bounded, before, repaired_by, after)
        return {**result, "seconds": round(elapsed, 1)}
    finally:
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)


def report(chaos, workers, faults, ops, strict, bounded, before, repaired_by, after) -> dict:
    requests: Counter = Counter()
    for worker in workers:
        requests.update(worker.ops)
    reads = Counter(op.outcome for op in ops if op.kind == "read")
    counts = chaos.history.counts()
    violations = strict["violations"]
    return {
        "seed": chaos.seed,
        "workspace": chaos.ws,
        "numbers": sorted({op.key for op in ops}),
        "requests": dict(sorted(requests.items())),
        "history": {f"{via} {outcome}": n for (via, outcome), n in sorted(counts.items())},
        "reads": dict(reads),
        "writes": dict(Counter(f"{op.kind} {op.outcome}" for op in ops if op.kind != "read")),
        "faults": dict(sorted(faults.injected.items())),
        "rebuilds": dict(faults.rebuilds),
        "contact_imports": {str(k): v for k, v in chaos.imports.items()},
        "refused_forms": dict(chaos.refused_forms),
        "unexpected_errors": dict(chaos.errors),
        "unexpected_error_examples": chaos.error_examples,
        "obliged_reads": strict["obliged_reads"],
        "obliged_reads_bounded": bounded["obliged_reads"],
        "violations": len(violations),
        "violations_by_kind": dict(Counter(v.read.via for v in violations)),
        "violation_examples": [v.describe() for v in violations[:10]],
        "violations_bounded": len(bounded["violations"]),
        "violations_bounded_by_kind": dict(Counter(v.read.via for v in bounded["violations"])),
        "violation_bounded_examples": [v.describe() for v in bounded["violations"][:10]],
        "settle_seconds": SETTLE_SECONDS,
        "drift_before_repair": before,
        "repaired_by": repaired_by,
        "cache_vs_record": after,
        "cache_equals_record": after["equal"],
    }


def format_report(result: dict) -> str:
    lines = [
        f"chaos run: seed {result['seed']}, {result['seconds']} s, workspace {result['workspace']}"
    ]
    numbers = result["numbers"]
    lines.append(
        f"{len(numbers)} numbers: {', '.join(numbers[:12])}{' ...' if len(numbers) > 12 else ''}"
    )

    def table(title: str, rows: dict) -> None:
        lines.append(f"\n{title}")
        width = max([len(str(k)) for k in rows] + [8])
        for key, value in rows.items():
            lines.append(f"  {str(key):<{width}}  {value:>8}")

    table("requests by kind", result["requests"])
    table("recorded operations (request, outcome)", result["history"])
    table("faults injected", result["faults"])
    table("contact CSV imports by status", result["contact_imports"])
    if result["rebuilds"]:
        table("cache rebuilds", result["rebuilds"])
    if result["unexpected_errors"]:
        table("unexpected answers (not 2xx, 4xx or 503)", result["unexpected_errors"])
        for example in result["unexpected_error_examples"][:3]:
            lines.append(f"  e.g. {example}")
    if result["refused_forms"]:
        table("number forms answered 4xx", result["refused_forms"])
    lines.append(
        f"\nreads constrained by an acknowledged add: {result['obliged_reads']} "
        f"({result['obliged_reads_bounded']} with the settle bound)"
    )
    lines.append(f"violations: {result['violations']} {result['violations_by_kind']}")
    lines.append(
        f"violations if failed deletes settle within {result['settle_seconds']:.0f} s: "
        f"{result['violations_bounded']} {result['violations_bounded_by_kind']}"
    )
    for example in (result["violation_examples"] or result["violation_bounded_examples"])[:5]:
        lines.append(f"  e.g. {example}")
    before = result["drift_before_repair"]
    lines.append(
        "before repair: "
        + (
            "no live cache"
            if not before["live_cache"]
            else f"cache==record {before['equal']} "
            f"(cache only {before['cache_only']}, record only {before['record_only']})"
        )
    )
    after = result["cache_vs_record"]
    lines.append(
        f"after {result['repaired_by']}: cache==record {after['equal']}"
        + (
            f" (cache only {after['cache_only']}, record only {after['record_only']},"
            f" rule entries that differ {after['rules_differ']})"
            if after["live_cache"]
            else " (no live cache)"
        )
    )
    return "\n".join(lines)


def main() -> int:
    seconds = float(os.environ.get("CHAOS_SECONDS", "600"))
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(10**9))
    clients = int(os.environ.get("CHAOS_CLIENTS", "6"))
    print(f"chaos: seed {seed}, {seconds:.0f} s, {clients} clients", flush=True)
    result = run(seed, seconds, clients)
    print(format_report(result))
    failed = (
        result["violations"] or result["violations_bounded"] or not result["cache_equals_record"]
    )
    if failed:
        print(f"\nchaos: FAILED (seed {seed}; rerun with CHAOS_SEED={seed})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
