"""In-process profile of batch upsert: where one 1,000-item call spends its time.

python -m bench.batch_profile [--calls 3] [--per-call 1000]

No HTTP and no gunicorn: the BatchService the API uses (built by app.wiring from the
configured engine and Redis, under a scratch `bench-` prefix) upserts `--per-call`
contacts by externalId `--calls` times as new contacts, then the same keys again with a
changed field (updates): once unprofiled (wall time, and this process's CPU time per
call: the Python cost, which the engine's own work in its own process does not count),
then on fresh keys under cProfile, for the cumulative time of the steps the batch path
is made of, beside the engine's bulk time in the same call. A fixed workload: a
before/after of a change to the batch path is two runs of this command, one on each
tree (noisy on a shared machine: compare the CPU figures, and alternate the runs).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import time

# Steps of the batch path, as (label, file suffix, function name) in the profile.
STEPS = (
    ("item validation", "app/services/batch_results.py", "load"),
    ("field preparation", "app/services/contact_rules.py", "prepare_fields"),
    ("new contact", "app/services/contacts.py", "new_contact"),
    ("merge", "app/services/contacts.py", "merge"),
    ("key resolution", "app/services/keys.py", "resolve"),
    ("external-id claims + re-read", "app/services/external_id_gives.py", "take"),
    ("to_document", "app/search/documents.py", "to_document"),
    ("DNC annotate", "app/services/contacts.py", "settle_dnc_flags"),
    ("change feed commit", "app/services/changes.py", "commit"),
    ("  read back in full", "app/services/change_records.py", "read_contacts"),
    ("  versions only", "app/services/change_records.py", "read_unless_written"),
    ("engine bulk (contacts + changes)", "opensearchpy/client/__init__.py", "bulk"),
)


def step_times(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile).stats
    found = {}
    for label, suffix, name in STEPS:
        found[label] = sum(
            entry[3]
            for (path, _, function), entry in stats.items()
            if function == name and path.endswith(suffix)
        )
    return found


def best_of(repeats: int, work) -> float:
    """The least CPU time of `repeats` runs (CPU: other processes' load moves it less)."""
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        timings.append(time.process_time() - started)
    return min(timings)


def python_steps(per_call: int) -> None:
    """The batch path's Python steps, no I/O, old way against new way, best of 5 runs.

    The feed's step is the client side of its read-back: decoding the engine's multi-get
    reply (every stored document, or versions only) and building the contact states."""
    import orjson

    from app.schemas.batch import UpsertItemSchema
    from app.schemas.loaders import compile_loader
    from app.search.documents import from_source, to_document
    from app.services.contact_rules import prepare_fields
    from app.services.contacts import ContactService
    from devtools.fakedata import contacts

    items = [
        {**c, "externalId": f"crm-{n}", "source": "bench"}
        for n, c in enumerate(contacts(per_call, seed=18))
    ]
    schema, compiled = UpsertItemSchema(), compile_loader(UpsertItemSchema)
    build = ContactService.new_contact
    docs = [
        to_document(build(None, {**prepare_fields(i, "US"), "workspaceId": "ws_b"})) for i in items
    ]
    full = orjson.dumps(
        {
            "docs": [
                {"_id": str(n), "found": True, "_seq_no": n, "_source": d}
                for n, d in enumerate(docs)
            ]
        }
    )
    versions = orjson.dumps(
        {"docs": [{"_id": str(n), "found": True, "_seq_no": n} for n in range(len(docs))]}
    )
    rows = [
        (
            "item validation",
            lambda: [schema.load(i) for i in items],
            lambda: [compiled(i) for i in items],
        ),
        (
            "feed state of written contacts",
            lambda: [from_source(d["_source"]) for d in orjson.loads(full)["docs"]],
            lambda: [from_source(docs[int(d["_id"])]) for d in orjson.loads(versions)["docs"]],
        ),
    ]
    rows += document_steps(items, docs)
    rows.append(change_step(docs))
    print(f"\nPython steps of one {per_call}-item upsert, no I/O (best of 5, CPU)")
    print(f"  {'step':34} {'before':>8} {'after':>8}")
    for label, before, after in rows:
        print(f"  {label:34} {best_of(5, before):7.3f}s {best_of(5, after):7.3f}s")


def document_steps(items: list[dict], docs: list[dict]) -> list[tuple]:
    """Per-document steps against the code they replaced (frozen in
    tests/unit/documents_reference.py, which the equivalence tests compare them with)."""
    from opensearchpy.client.utils import _bulk_body

    from app.jsonio import EngineSerializer
    from app.search.bulk_bodies import bulk_body
    from app.search.documents import to_document
    from app.services.contact_rules import prepare_fields
    from app.services.contacts import ContactService
    from tests.unit import documents_reference as old

    prepared = [{**prepare_fields(i, "US"), "workspaceId": "ws_b"} for i in items]
    made = [ContactService.new_contact(None, p) for p in prepared]
    again = [{**prepare_fields({**i, "notes": "synced again"}, "US")} for i in items]
    lines = [line for n, d in enumerate(docs) for line in ({"index": {"_id": str(n)}}, d)]
    serializer = EngineSerializer()
    return [
        (
            "new_contact",
            lambda: [old.new_contact(p, contact_id="c", now=p["workspaceId"]) for p in prepared],
            lambda: [ContactService.new_contact(None, p) for p in prepared],
        ),
        (
            "merge (updated)",
            lambda: [old.merge(c, a) for c, a in zip(made, again, strict=True)],
            lambda: [ContactService.merge(None, c, a) for c, a in zip(made, again, strict=True)],
        ),
        (
            "to_document",
            lambda: [old.to_document(c) for c in made],
            lambda: [to_document(c) for c in made],
        ),
        (
            "bulk body",
            lambda: _bulk_body(serializer, lines).encode("utf-8", "surrogatepass"),
            lambda: bulk_body(lines, serializer),
        ),
    ]


def change_step(docs: list[dict]) -> tuple:
    """The change feed's record of written contacts (its change documents from the stored
    documents) against the builder it replaced (tests/unit/change_records_reference.py)."""
    from app.search.documents import utc_now
    from app.services.change_records import change_data, contact_change
    from tests.unit import change_records_reference as old

    now = utc_now()
    return (
        "change documents",
        lambda: [old.contact_change(d["id"], "created", old.from_source(d), now) for d in docs],
        lambda: [contact_change(d["id"], "created", change_data(d), now) for d in docs],
    )


def report(phase: str, profiled: bool, args, wall: float, cpu: float, profile) -> None:
    mode = "under cProfile" if profiled else "unprofiled"
    print(f"\n{phase}: {args.calls} calls of {args.per_call} items, {mode}")
    print(f"  {'wall per call':34} {wall / args.calls:7.3f} s")
    print(f"  {'Python CPU per call':34} {cpu / args.calls:7.3f} s")
    if profiled:
        for label, seconds in step_times(profile).items():
            print(f"  {label:34} {seconds / args.calls:7.3f} s")
        if args.top:
            pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--per-call", type=int, default=1_000)
    parser.add_argument("--steps-only", action="store_true", help="only the no-I/O steps")
    parser.add_argument("--top", type=int, default=0, help="also the N costliest functions")
    parser.add_argument(
        "--no-cprofile", action="store_true", help="only the unprofiled calls (for py-spy)"
    )
    args = parser.parse_args()
    # Before anything imports app.config: the settings are read from the environment.
    run = secrets.token_hex(3)
    os.environ["INDEX_PREFIX"] = prefix = f"bench-batchprof-{run}-"
    os.environ["REDIS_KEY_PREFIX"] = f"bench:{run}:"
    try:
        python_steps(args.per_call)
    except ImportError:  # a tree from before the compiled loaders (a "before" run)
        print("(no compiled loaders in this tree: the no-I/O steps are skipped)")
    if args.steps_only:
        return

    from app import create_app
    from app.config import Config
    from app.heap import freeze_startup_objects
    from app.search.indices import drop_all, ensure_all
    from devtools.fakedata import contacts

    app = create_app(Config)
    wiring = app.extensions["wiring"]
    freeze_startup_objects()  # as each gunicorn worker does once the app is loaded
    client = wiring.opensearch
    drop_all(client, prefix)
    ensure_all(client, prefix)
    workspace = "ws_bench_profile"
    people = list(contacts(2 * args.calls * args.per_call, seed=18))
    try:
        with app.app_context():
            batch = wiring.batch
            batch.upsert(workspace, "externalId", [{"externalId": "warm", "firstName": "W"}])
            # Unprofiled first (wall and this process's CPU: the Python the engine waits
            # for), then the same workload on fresh keys under cProfile for the breakdown.
            for profiled in (False,) if args.no_cprofile else (False, True):
                offset = args.calls if profiled else 0
                for phase in ("created", "updated"):
                    profile, wall, cpu = cProfile.Profile(), 0.0, 0.0
                    for call in range(offset, offset + args.calls):
                        chunk = people[call * args.per_call : (call + 1) * args.per_call]
                        items = [
                            {**c, "externalId": f"crm-{call}-{n}", "source": "bench"}
                            for n, c in enumerate(chunk)
                        ]
                        if phase == "updated":
                            items = [{**item, "notes": "synced again"} for item in items]
                        started, cpu_started = time.perf_counter(), time.process_time()
                        if profiled:
                            profile.enable()
                        result = batch.upsert(workspace, "externalId", items)
                        if profiled:
                            profile.disable()
                        wall += time.perf_counter() - started
                        cpu += time.process_time() - cpu_started
                        if result["summary"][phase] != len(items):
                            raise RuntimeError(f"expected all {phase}: {result['summary']}")
                    report(phase, profiled, args, wall, cpu, profile)
    finally:
        drop_all(client, prefix)


if __name__ == "__main__":
    main()
