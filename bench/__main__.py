"""Run every benchmark of the project and write BENCHMARKS.md from their results.

python -m bench                   run all, then write the report
python -m bench --report          only rebuild BENCHMARKS.md from bench-results/
python -m bench --only dnc load   run only these (module names of bench/)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.benchlib import RESULTS, ROOT

# Module of bench/ -> the result file it writes in bench-results/. Order: cheap first, so
# a failure late in the run still leaves most figures.
BENCHMARKS = {
    "create": "create",
    "dnc": "dnc",
    "search": "search",
    "imports": "import",
    "batch": "batch",
    "feed": "feed",
    "load": "load",
}


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if "MemTotal" in line).split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{platform.platform()}, {cpus} CPUs{memory}, Python {platform.python_version()}"


def render_value(value) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def render_targets(targets) -> list[str]:
    """A benchmark's own verdicts: {"name": bool} or ["sentence", ...]."""
    if isinstance(targets, dict):
        return [
            f"- {'holds' if ok else 'does not hold'}: {name}"
            if isinstance(ok, bool)
            else f"- {name}: {render_value(ok)}"
            for name, ok in targets.items()
        ]
    return [f"- {item}" for item in targets]


def render(result: dict) -> list[str]:
    """Lists of flat dicts become tables; targets a checklist; the rest bullets."""
    lines: list[str] = []
    for key, value in result.items():
        if key == "title":
            continue
        if key == "targets":
            lines += ["", "Targets:", "", *render_targets(value), ""]
            continue
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            columns = list(dict.fromkeys(c for row in value for c in row))
            lines += [
                "",
                f"{key}:",
                "",
                "| " + " | ".join(columns) + " |",
                "|" + "---|" * len(columns),
            ]
            lines += [
                "| " + " | ".join(render_value(r.get(c, "")) for c in columns) + " |" for r in value
            ]
            lines.append("")
        else:
            lines.append(f"- {key}: {render_value(value)}")
    return lines


def ratio_table(results: dict) -> list[str]:
    """Issue 14's ratios, each against the raw engine measured in the same run."""
    rows = []
    for row in results.get("search", {}).get("api_vs_raw", []):
        rows.append(
            (
                f"search, {row['clients']} client(s), {row['contacts_in_workspace']} contacts",
                f"{row['api_q_per_s']} q/s, p50 {row['api_p50_ms']} ms",
                f"{row['raw_q_per_s']} q/s, p50 {row['raw_p50_ms']} ms",
                f"{row['throughput_ratio']}x throughput, p50 +{row['p50_extra_ms']} ms",
                ">= 0.8x at 8 clients; p50 <= raw + 2 ms at 1",
            )
        )
    for row in results.get("imports", {}).get("rows", []):
        rows.append(
            (
                f"CSV import, {row['rows']:,} rows",
                f"{row['import_docs_per_s']} docs/s",
                f"{row['bulk_docs_per_s']} docs/s (plain _bulk)",
                f"{row['ratio']}x",
                ">= 0.8x",
            )
        )
    create = results.get("create")
    if create:
        api, raw = create["rows"][0], create["rows"][1]
        rows.append(
            (
                f"create, {create['concurrency']} clients",
                f"{api['docs_per_s']} docs/s",
                f"{raw['docs_per_s']} docs/s (single-document index)",
                f"{create['ratio']}x",
                ">= 0.6x",
            )
        )
    dnc = results.get("dnc", {})
    if dnc.get("ratios"):
        latency = {row["path"]: row for row in dnc["latency"]}
        new = next(r for p, r in latency.items() if "new numbers" in p)
        raw = next(r for p, r in latency.items() if "SMISMEMBER" in p)
        rows.append(
            (
                "DNC bulk check, 1,000 new numbers",
                f"p99 {new['p99_ms']} ms",
                f"p99 {raw['p99_ms']} ms (SMISMEMBER x1000)",
                f"{dnc['ratios']['bulk_new_over_raw_p99']}x",
                "<= 3x",
            )
        )
        rows.append(
            (
                "DNC single check, listed vs unlisted",
                "", "", f"{dnc['ratios']['single_listed_over_unlisted_p99']}x p99", "<= 1.5x",
            )
        )  # fmt: skip
    if not rows:
        return []
    out = [
        "",
        "## API vs the raw engine (issue 14)",
        "",
        "| path | API | raw engine, same run | ratio | target |",
        "|---|---|---|---|---|",
    ]
    return out + ["| " + " | ".join(row) + " |" for row in rows]


def write_report() -> Path:
    out = [
        "# Benchmarks",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `make bench` on "
        f"{machine()}. Each figure sits beside its raw-engine baseline measured in the same "
        "run; absolute times drift on shared machines, ratios much less.",
    ]
    results = {}
    for name, result_name in BENCHMARKS.items():
        path = RESULTS / f"{result_name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    out += ratio_table(results)
    out += ["", "## Targets at a glance", ""]
    for name, result in results.items():
        if "targets" in result:
            out += [f"{result.get('title', name)}:", "", *render_targets(result["targets"]), ""]
    out += [
        "Reading them: on 2 shared cores the load generator, the API and OpenSearch compete for",
        "the same CPUs, so at 16 concurrent clients every request kind queues behind the others",
        "(cheap and expensive search queries show the same p99). The import's 15,000 rows/s",
        "cannot be reached here because a plain `_bulk` of the same documents into the same",
        "mapping is itself about 5,400 docs/s on this machine.",
    ]
    for name in BENCHMARKS:
        if name not in results:
            out += ["", f"## {name}", "", "Not run (no result file)."]
            continue
        result = results[name]
        out += ["", f"## {result.get('title', name)}", "", f"Source: `bench/{name}.py`", ""]
        out += render(result)
    report = ROOT / "BENCHMARKS.md"
    report.write_text("\n".join(out) + "\n")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only rebuild the report")
    parser.add_argument("--only", nargs="*", help=f"run only these: {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    unknown = set(args.only or ()) - set(BENCHMARKS)
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
    failed = []
    if not args.report:
        for name in args.only or BENCHMARKS:
            print(f"\n=== {name} ===", flush=True)
            # From the repository root, so `-m` finds bench/ and devtools/.
            code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT)
            if code:
                failed.append(name)
    print(f"\nwrote {write_report()}")
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
