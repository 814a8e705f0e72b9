"""Index management: load a JSON mapping, create versioned indices, point aliases.

Each logical index `<name>` (contacts, dnc) lives in `<prefix><name>-v<N>`; reads go
through the alias `<prefix><name>` and writes through `<prefix><name>-write`, so a
reindex can build `-v<N+1>` and move both aliases in one atomic call.

The files hold the mappings and analysis; the shard layout (shards, replicas, routing
partition) comes from the environment through `app.config.index_topology`, so one file
serves a laptop (1 shard, 0 replicas) and a cluster. An index routed by workspace over
a partition of several shards must require routing, so `load_definition` adds
`_routing.required` there (OpenSearch refuses the setting otherwise).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from opensearchpy import OpenSearch

from app.config import index_topology

MAPPINGS_DIR = Path(__file__).resolve().parent.parent.parent / "index_mappings"


def load_definition(name: str) -> dict:
    """The index's settings and mappings: the file, with the configured shard layout."""
    definition = json.loads((MAPPINGS_DIR / f"{name}.json").read_text())
    topology = index_topology(name)
    definition["settings"]["index"].update(topology)
    if topology.get("routing_partition_size", 1) > 1:
        definition["mappings"]["_routing"] = {"required": True}
    return definition


def index_names() -> list[str]:
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.json"))


class IndexNames:
    """Aliases of one logical index under a prefix."""

    def __init__(self, prefix: str, name: str) -> None:
        self.prefix, self.name = prefix, name
        self.read = f"{prefix}{name}"
        self.write = f"{prefix}{name}-write"

    def version(self, number: int) -> str:
        return f"{self.read}-v{number}"

    def version_of(self, index: str) -> int:
        match = re.fullmatch(re.escape(self.read) + r"-v(\d+)", index)
        return int(match.group(1)) if match else 0


def missing_fields(wanted: dict, live: dict, path: str = "") -> list[str]:
    """Fields (dotted paths) the mapping file defines that the live mapping lacks: an
    index created from an older file, which a strict mapping makes refuse new writes."""
    missing = []
    for name, spec in (wanted.get("properties") or {}).items():
        here = f"{path}{name}"
        if name not in (live.get("properties") or {}):
            missing.append(here)
        elif "properties" in spec:
            missing += missing_fields(spec, live["properties"][name], here + ".")
    return missing


def outdated_fields(client: OpenSearch, prefix: str, name: str) -> list[str]:
    """What index_mappings/<name>.json adds to the live index (none: up to date)."""
    index = current_index(client, IndexNames(prefix, name))
    if index is None:
        return []
    live = client.indices.get_mapping(index=index)[index]["mappings"]
    return missing_fields(load_definition(name)["mappings"], live)


def current_index(client: OpenSearch, names: IndexNames) -> str | None:
    """The concrete index behind the read alias, or None."""
    if not client.indices.exists_alias(name=names.read):
        return None
    return next(iter(client.indices.get_alias(name=names.read)))


def create_version(
    client: OpenSearch, names: IndexNames, number: int, *, overrides: dict | None = None
) -> str:
    definition = load_definition(names.name)
    if overrides:
        definition["settings"]["index"] = {**definition["settings"]["index"], **overrides}
    index = names.version(number)
    client.indices.create(index=index, body=definition)
    return index


def point_aliases(client: OpenSearch, names: IndexNames, index: str) -> None:
    """Move the read and write aliases to `index` in one atomic call."""
    actions = []
    for alias in (names.read, names.write):
        if client.indices.exists_alias(name=alias):
            for old in client.indices.get_alias(name=alias):
                if old != index:
                    actions.append({"remove": {"index": old, "alias": alias}})
    actions.append({"add": {"index": index, "alias": names.read}})
    actions.append({"add": {"index": index, "alias": names.write, "is_write_index": True}})
    client.indices.update_aliases(body={"actions": actions})


def ensure_index(client: OpenSearch, prefix: str, name: str) -> str:
    """Create `-v1` and its aliases when the alias is absent; return the live index."""
    names = IndexNames(prefix, name)
    existing = current_index(client, names)
    if existing:
        return existing
    index = names.version(1)
    if not client.indices.exists(index=index):
        create_version(client, names, 1)
    point_aliases(client, names, index)
    return index


def ensure_all(client: OpenSearch, prefix: str) -> dict[str, str]:
    return {name: ensure_index(client, prefix, name) for name in index_names()}


def drop_all(client: OpenSearch, prefix: str) -> None:
    """Delete every index under `prefix` (tests and local resets only)."""
    if not prefix:
        raise ValueError("refusing to drop indices without a prefix")
    client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
