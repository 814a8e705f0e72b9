"""In-process profile of batch upsert: where one 1,000-item call spends its time.

python -m bench.batch_profile [--calls 3] [--per-call 1000]

No HTTP and no gunicorn: the BatchService the API uses (built by app.wiring from the
configured engine and Redis, under a scratch `bench-` prefix) upserts `--per-call`
contacts by externalId `--calls` times as new contacts, then the same keys again with a
changed field (updates), under cProfile. Prints, per phase, the wall time per call and
the cumulative time of the steps the batch path is made of, beside the engine's own
bulk time in the same call. A fixed workload, so a before/after of a change to the
batch path is a comparison of two runs of this command (noisy on a shared machine:
compare the shares, and run it twice).
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
    ("field preparation", "app/services/contacts.py", "prepare_fields"),
    ("new contact", "app/services/contacts.py", "new_contact"),
    ("merge", "app/services/contacts.py", "merge"),
    ("key resolution", "app/services/keys.py", "resolve"),
    ("to_document", "app/search/documents.py", "to_document"),
    ("DNC annotate", "app/services/contacts.py", "settle_dnc_flags"),
    ("change feed commit", "app/services/changes.py", "commit"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--per-call", type=int, default=1_000)
    args = parser.parse_args()
    run = secrets.token_hex(3)
    os.environ["INDEX_PREFIX"] = prefix = f"bench-batchprof-{run}-"
    os.environ["REDIS_KEY_PREFIX"] = f"bench:{run}:"

    from app import create_app
    from app.config import Config
    from app.search.indices import drop_all, ensure_all
    from devtools.fakedata import contacts

    app = create_app(Config)
    wiring = app.extensions["wiring"]
    client = wiring.opensearch
    drop_all(client, prefix)
    ensure_all(client, prefix)
    workspace = "ws_bench_profile"
    people = list(contacts(args.calls * args.per_call, seed=18))
    try:
        with app.app_context():
            batch = wiring.batch
            batch.upsert(workspace, "externalId", [{"externalId": "warm", "firstName": "W"}])
            for phase in ("created", "updated"):
                profile, wall = cProfile.Profile(), 0.0
                for call in range(args.calls):
                    chunk = people[call * args.per_call : (call + 1) * args.per_call]
                    items = [
                        {**c, "externalId": f"crm-{call}-{n}", "source": "bench"}
                        for n, c in enumerate(chunk)
                    ]
                    if phase == "updated":
                        items = [{**item, "notes": "synced again"} for item in items]
                    started = time.perf_counter()
                    profile.enable()
                    result = batch.upsert(workspace, "externalId", items)
                    profile.disable()
                    wall += time.perf_counter() - started
                    if result["summary"][phase] != len(items):
                        raise RuntimeError(f"expected every item {phase}: {result['summary']}")
                print(f"\n{phase}: {args.calls} calls of {args.per_call} items")
                print(f"  {'wall per call (profiled)':34} {wall / args.calls:7.3f} s")
                for label, seconds in step_times(profile).items():
                    print(f"  {label:34} {seconds / args.calls:7.3f} s")
    finally:
        drop_all(client, prefix)


if __name__ == "__main__":
    main()
