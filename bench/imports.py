"""Benchmark: CSV import path vs a plain `_bulk` of the identical final documents.

For each size (default 1M and 100k rows of devtools/fakedata.py contacts):
1. write the CSV;
2. import it through ImportService.create (the code path of the API, the worker and
   `contacts import`) in a child process, timing it there and reading the child's
   peak RSS from wait4();
3. read the imported documents back, create a fresh index from the same mapping file,
   and time a plain `_bulk` loop of exactly those documents (same batch size, same
   routing, one final refresh, like the import).
Prints a table and writes bench-results/import.json. Indices use a `bench-` prefix
and are deleted at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opensearchpy import OpenSearch, helpers

from app.config import Config
from app.search.indices import IndexNames, create_version, drop_all, ensure_all
from bench.benchlib import ROOT, engine, print_table, write_result
from devtools.fakedata import contacts

WORKSPACE = "ws_bench_import"
HEADER = ["First Name", "Last Name", "Phone", "E-mail Address", "Company", "Tags"]


def write_csv(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for c in contacts(count, seed=count):
            row = [c["firstName"], c["lastName"], c["phone"], c["email"], c["company"]]
            writer.writerow([*row, ";".join(c["tags"])])


def child_import(path: str) -> None:
    """Runs in the child: one import, its timing and counts on stdout as JSON."""
    from app.heap import freeze_startup_objects
    from app.jobs import config_dict
    from app.wiring import Wiring

    service = Wiring(config_dict(), background=True).imports
    freeze_startup_objects()  # as the worker does once it built its services
    options = {"workspaceId": WORKSPACE, "onDuplicate": "skip", "dryRun": False}
    started = time.perf_counter()
    with open(path, "rb") as stream:
        record = service.create(stream, options, Path(path).name, inline=True)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "counts": record["counts"]}))


def run_import(path: Path, env: dict) -> tuple[dict, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.imports", "--child-import", str(path)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"import child failed ({process.returncode})")
    return json.loads(output.decode().strip().splitlines()[-1]), usage.ru_maxrss // 1024


def export_documents(client: OpenSearch, index: str, path: Path) -> int:
    count = 0
    with path.open("w") as out:
        for hit in helpers.scan(client, index=index, size=5000, preserve_order=False):
            meta = {"index": {"_id": hit["_id"], "routing": WORKSPACE}}
            out.write(json.dumps(meta) + "\n" + json.dumps(hit["_source"]) + "\n")
            count += 1
    return count


def _bulk(client: OpenSearch, index: str, lines: list[str]) -> None:
    response = client.bulk(body="".join(lines), index=index)
    if response["errors"]:
        raise RuntimeError("the plain _bulk baseline had item errors")


def plain_bulk(client: OpenSearch, index: str, path: Path, batch: int) -> float:
    started = time.perf_counter()
    lines: list[str] = []
    with path.open() as source:
        for line in source:
            lines.append(line)
            if len(lines) >= 2 * batch:
                _bulk(client, index, lines)
                lines = []
    if lines:
        _bulk(client, index, lines)
    client.indices.refresh(index=index)
    return time.perf_counter() - started


def measure(client: OpenSearch, size: int, work: Path) -> dict:
    run = secrets.token_hex(3)
    prefix, raw_prefix = f"bench-import-{run}-", f"bench-import-raw-{run}-"
    csv_path, docs_path = work / f"contacts-{size}.csv", work / f"docs-{size}.ndjson"
    write_csv(csv_path, size)
    env = dict(
        os.environ,
        INDEX_PREFIX=prefix,
        REDIS_KEY_PREFIX=f"bench:{run}:",
        IMPORT_DIR=str(work / "imports"),
    )
    try:
        ensure_all(client, prefix)
        result, peak_mib = run_import(csv_path, env)
        docs = export_documents(client, IndexNames(prefix, "contacts").read, docs_path)
        raw_index = create_version(client, IndexNames(raw_prefix, "contacts"), 1)
        raw_seconds = plain_bulk(client, raw_index, docs_path, Config.IMPORT_CHUNK_ROWS)
    finally:
        drop_all(client, prefix)
        drop_all(client, raw_prefix)
        for path in (csv_path, docs_path):
            path.unlink(missing_ok=True)
    seconds, written = result["seconds"], result["counts"]["created"]
    return {
        "rows": size,
        "docs": docs,
        "import_s": round(seconds, 1),
        "import_rows_per_s": round(size / seconds),
        "import_docs_per_s": round(written / seconds),
        "bulk_s": round(raw_seconds, 1),
        "bulk_docs_per_s": round(docs / raw_seconds),
        "ratio": round((written / seconds) / (docs / raw_seconds), 2),
        "importer_peak_rss_mib": peak_mib,
        "counts": result["counts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 100_000])
    parser.add_argument("--child-import", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(args.child_import)
        return
    client = engine()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        rows = [measure(client, size, Path(tmp)) for size in args.sizes]
    table = [{k: v for k, v in row.items() if k != "counts"} for row in rows]
    print_table(table, "CSV import vs plain _bulk of the same documents")
    peaks = [row["importer_peak_rss_mib"] for row in rows]
    result = {
        "title": "CSV import: import path vs plain _bulk of the same final documents",
        "rows": table,
        "counts": {str(row["rows"]): row["counts"] for row in rows},
        "chunk_rows": Config.IMPORT_CHUNK_ROWS,
        "targets": {
            "ratio_at_least_0.8": all(row["ratio"] >= 0.8 for row in rows),
            "import_at_least_15000_rows_per_s": all(
                row["import_rows_per_s"] >= 15_000 for row in rows
            ),
            "peak_memory_within_20_percent": max(peaks) <= 1.2 * min(peaks),
        },
    }
    print(json.dumps(result["targets"], indent=2))
    print(f"wrote {write_result('import', result)}")


if __name__ == "__main__":
    main()
