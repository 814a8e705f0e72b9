"""The highlighter's CPU per 1,000 hits, in one process: contacts with one phone and one
email beside contacts with three of each, under the query kinds a search box sees (a
name being typed, a whole name, a secondary number's last four digits or in full, a
secondary address's local part). `--against REV` loads app/search/highlights.py as it
was at a git revision into the same process and times it on the same hits, so a change
is judged before/after on one machine state (best of N rounds; memos warm, as when the
same query is typed by many users, and cold, every memo cleared before each round).

python -m bench.highlights [--against HEAD~1] [--rounds 7]

No engine is involved: highlights are computed from the stored contact and the parsed
query. The search path's end-to-end figures beside the raw engine are bench.search's.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from app.search import highlights as current
from app.search.documents import from_source
from app.search.readings import parse_query
from bench.benchlib import ROOT, print_table
from devtools.fakedata import contact, phone

HITS = 1_000


def hits(methods: int, seed: int = 14) -> list[dict]:
    """HITS contacts as search returns them (from_source), each with `methods` phones and
    as many emails (the first primary)."""
    rng = random.Random(seed)
    found = []
    for _ in range(HITS):
        person = contact(rng)
        numbers = [person["phone"], *(phone(rng) for _ in range(methods - 1))]
        local, domain = person["email"].split("@")
        addresses = [
            person["email"],
            *(f"{local}.{n}@alt{n}.example.org" for n in range(1, methods)),
        ]
        person["phones"] = [
            {"number": n, "type": "mobile", "primary": i == 0} for i, n in enumerate(numbers)
        ]
        person["emails"] = [
            {"address": a, "type": "work", "primary": i == 0} for i, a in enumerate(addresses)
        ]
        found.append(from_source(person))
    return found


def queries(sample: dict) -> dict[str, str]:
    """One query of each kind, aimed at the sample's last number and address."""
    number = sample["phones"][-1]["number"]
    address = sample["emails"][-1]["address"]
    return {
        "name prefix": sample["firstName"][:3],
        "first last": f"{sample['firstName']} {sample['lastName']}",
        "last four digits": number[-4:],
        "whole number": number,
        "address local part": address.split("@")[0][:6],
    }


def load_revision(rev: str) -> ModuleType:
    """app/search/highlights.py as it was at `rev`, imported under another name."""
    text = subprocess.run(
        ["git", "show", f"{rev}:app/search/highlights.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "highlights_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("highlights_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clear_memos(module: ModuleType) -> None:
    for value in vars(module).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def best_ms(modules: dict, contacts: list[dict], text: str, rounds: int, cold: bool) -> dict:
    """Best of `rounds` per module, the modules taking turns in each round (a burst of
    load on the shared machine falls on all of them, not on one)."""
    parsed = parse_query(text)
    best = dict.fromkeys(modules, float("inf"))
    for _ in range(rounds):
        for name, module in modules.items():
            if cold:
                clear_memos(module)
            highlight = module.highlights
            start = time.perf_counter()
            for hit in contacts:
                highlight(hit, parsed)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: round(seconds * 1000, 2) for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="a git revision to time beside the working tree")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    modules = {"now": current}
    if args.against:
        modules = {args.against[:12]: load_revision(args.against), **modules}
    rows = []
    for methods in (1, 3):
        contacts = hits(methods)
        for kind, text in queries(contacts[0]).items():
            row = {"phones/emails": methods, "query": kind}
            for memo in ("warm", "cold"):
                for name, ms in best_ms(
                    modules, contacts, text, args.rounds, memo == "cold"
                ).items():
                    row[f"{name} {memo} ms"] = ms
            rows.append(row)
    print_table(rows, f"highlights() per {HITS:,} hits, best of {args.rounds}")


if __name__ == "__main__":
    sys.exit(main())
