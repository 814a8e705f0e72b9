"""In-process profile of a CSV import: where the importer's own time goes.

python -m bench.import_profile [--rows 20000] [--repeats 2]

The import runs inline in this process (ImportService.create, the code path of the API,
the worker and `contacts import`) on the CSV bench.imports writes, into scratch `bench-`
indices, `--repeats` times, each into a fresh workspace. Prints per run the wall time,
this process's CPU time (every thread: the Python the engine waits for) and rows/s, then
the top functions of one run under cProfile (main thread; the sender thread's bulk and
feed record show as the main thread's wait in `_settle`). A before/after of a change is
this command run on each tree, alternately (the machine is shared: compare CPU).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--top", type=int, default=25, help="0: no run under cProfile")
    args = parser.parse_args()
    # Before anything imports app.config: the settings are read from the environment.
    run = secrets.token_hex(3)
    os.environ["INDEX_PREFIX"] = prefix = f"bench-importprof-{run}-"
    os.environ["REDIS_KEY_PREFIX"] = f"bench:{run}:"

    from app.heap import freeze_startup_objects
    from app.jobs import config_dict
    from app.search.indices import drop_all, ensure_all
    from app.wiring import Wiring
    from bench.imports import write_csv

    wiring = Wiring(config_dict(), background=True)
    freeze_startup_objects()  # as the background worker does once its services are built
    ensure_all(wiring.opensearch, prefix)
    path = Path(tempfile.mkdtemp(prefix="bench-import-")) / "contacts.csv"
    write_csv(path, args.rows)
    try:
        print(f"import of {args.rows} rows, inline, in this process")
        print(f"  {'run':10} {'wall s':>8} {'CPU s':>8} {'rows/s':>8}")
        for attempt in range(args.repeats + (1 if args.top else 0)):
            profiled = attempt == args.repeats
            profile = cProfile.Profile()
            options = {"workspaceId": f"ws_prof_{attempt}", "onDuplicate": "skip", "dryRun": False}
            started, cpu = time.perf_counter(), time.process_time()
            if profiled:
                profile.enable()
            with path.open("rb") as stream:
                record = wiring.imports.create(stream, options, path.name, inline=True)
            if profiled:
                profile.disable()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            if record["counts"]["invalid"]:
                raise RuntimeError(f"invalid rows: {record['counts']}")
            label = "cProfile" if profiled else f"#{attempt + 1}"
            print(f"  {label:10} {wall:8.2f} {cpu:8.2f} {args.rows / wall:8.0f}")
        if args.top:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    finally:
        drop_all(wiring.opensearch, prefix)
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
