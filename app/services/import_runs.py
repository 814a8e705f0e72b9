"""One pass over an import file: validate in chunks, dedupe, bulk-index, checkpoint.

The pass is resumable: contact ids are derived from the import id and the row's line
number, and progress is checkpointed after every bulk, so a run that died is re-run
from its last checkpoint and the rows in flight are written again under the same ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from opensearchpy import OpenSearch

from app.errors import ValidationError
from app.imports import RowProblem
from app.imports.bloom import BloomFilter
from app.imports.dedupe import dedupe_keys, merge_into, row_contact_id
from app.search.bulk_bodies import bulk_items
from app.search.documents import from_source
from app.search.indices import IndexNames
from app.services.change_records import Written
from app.services.external_id_gives import GiveClaims
from app.services.import_gives import claim_chunk_gives, fold_resolved
from app.services.import_rows import Row, RowValidator

# Rows written since the last refresh are remembered exactly; a refresh every few chunks
# makes them searchable and bounds that memory (about 4,000 keys per chunk).
REFRESH_EVERY_CHUNKS = 8


@dataclass
class Counts:
    total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    invalid: int = 0

    @property
    def done(self) -> int:
        return self.created + self.updated + self.skipped + self.invalid


@dataclass
class Planned:
    """What one chunk will do: bulk actions by id, and each row's intended outcome."""

    rows: list[Row]
    actions: dict[str, dict] = field(default_factory=dict)
    outcomes: list[tuple[Row, str, str | None]] = field(default_factory=list)
    change: str | None = None  # its announcement to the change feed (app/services/changes.py)
    claims: GiveClaims | None = None  # on the ids it gives, until it lands (import_gives.py)


def change_entries(actions: dict[str, dict]) -> list[list]:
    """[id, op, externalId] of each bulk action: what the change feed records of a chunk."""
    return [
        [i, "updated" if "if_seq_no" in a else "created", a["_source"].get("externalId")]
        for i, a in actions.items()
    ]


class ImportRun:
    """Drives the rows of one import through validation, dedupe and bulk indexing.

    Validation of chunk N+1 overlaps the writing of chunk N (one sender thread): its
    bulk request, the DNC flag re-read and the change feed's record, so Python's CPU
    work and the engine's run side by side. One writer thread keeps the chunks' records
    in file order and bounds memory to two chunks; the feed records each chunk from the
    documents its bulk stored, at the versions the engine answered (app/services/changes.py).
    """

    def __init__(
        self,
        client: OpenSearch,
        names: IndexNames,
        validator: RowValidator,
        *,
        import_id: str,
        workspace_id: str,
        policy: str,
        dry_run: bool,
        expected_rows: int,
        chunk_rows: int,
        on_chunk: Callable[[list[Row], list[tuple[Row, str]], int], None],
    ) -> None:
        self.client, self.names, self.validator = client, names, validator
        self.contacts = validator.contacts  # builds every contact document and bulk action
        self.import_id, self.workspace_id = import_id, workspace_id
        self.policy, self.dry_run, self.chunk_rows = policy, dry_run, chunk_rows
        self.on_chunk = on_chunk
        # Keys this run wrote that search may not see yet, per chunk: an exact and bounded
        # view of the file's own recent rows (cleared by the refresh every few chunks).
        self.recent: dict[str, str] = {}
        # External id -> the free slot a new holder is created under (None: random id).
        self._free_slots: dict[str, str | None] = {}
        self._recent_chunks: list[tuple[int, dict[str, str]]] = []
        self._chunk_no = self._settled_no = self._refreshed_no = 0
        # A dry run writes nothing, so only memory can spot a repeated key: a fixed-size
        # Bloom filter (one false "seen" in a million keys) keeps that memory flat.
        self.seen = BloomFilter(max(1000, 2 * expected_rows), 1e-6) if dry_run else None
        # Every key of every row of this pass, to tell a row that repeats an earlier row
        # of the file from one that matches a contact that was there before (a resumed
        # pass starts it empty: repeats of rows before the checkpoint count as existing).
        self.file_keys = BloomFilter(max(1000, 2 * expected_rows), 1e-6)
        self._pending: tuple[Future | None, Planned, int] | None = None

    # --- the loop ----------------------------------------------------------------

    def run(self, rows: Iterable[tuple[int, list[str]]], *, resumed: bool = False) -> None:
        if resumed and not self.dry_run:
            # Rows written before the restart must be visible to the duplicate lookup.
            self.client.indices.refresh(index=self.names.write)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-bulk") as sender:
            for chunk in self._chunks(rows):
                self._chunk_no += 1
                planned = self._plan([self.validator.validate(line, v) for line, v in chunk])
                future = None
                if planned.actions and not self.dry_run:
                    entries = change_entries(planned.actions)
                    planned.change = self.contacts.changes.begin(self.workspace_id, entries)
                    future = sender.submit(self._write, planned)
                self._settle()
                self._pending = (future, planned, self._chunk_no)
                if self._chunk_no - self._refreshed_no > REFRESH_EVERY_CHUNKS:
                    self._refresh()
            self._settle()

    def _chunks(self, rows: Iterable[tuple[int, list[str]]]) -> Iterator[list]:
        chunk = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= self.chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _write(self, planned: Planned) -> dict[str, str | None]:
        """Bulk-index a chunk, then what every contact write does after its write: the
        DNC flags re-read and the change feed's record. The error of each failed action
        by id (None when it succeeded)."""
        failures, written = self._send(list(planned.actions.values()))
        stored = {i: a for i, a in planned.actions.items() if failures.get(i) is None}
        # Copies: the re-read annotates what it is given, and the feed records the
        # documents as stored (no per-number `dnc`).
        saved = [dict(a["_source"]) for a in stored.values()]
        self.contacts.settle_dnc_flags(self.workspace_id, saved)
        self.contacts.changes.commit(
            self.workspace_id, planned.change, change_entries(stored), written=written
        )
        return failures

    def _send(self, actions: list[dict]) -> tuple[dict[str, str | None], Written]:
        """Bulk-index: the error of each failed action by id (None when it succeeded), and
        what each stored action wrote (index, seq_no, primary_term, document)."""
        sources = {action["_id"]: action["_source"] for action in actions}
        results: dict[str, str | None] = {}
        written: Written = {}
        for item in bulk_items(self.client, actions, retries=3, backoff=1):
            info = next(iter(item.values()))
            ok = 200 <= info.get("status", 500) < 300
            results[info["_id"]] = None if ok else _bulk_error(info)
            if ok:
                version = (info.get("_index"), info.get("_seq_no"), info.get("_primary_term"))
                written[info["_id"]] = (*version, sources[info["_id"]])
        return results, written

    def _settle(self) -> None:
        """Wait for the chunk in flight and hand its outcomes to the caller."""
        if self._pending is None:
            return
        future, planned, number = self._pending
        self._pending = None
        self._settled_no = number
        try:
            failures = future.result() if future else {}
        finally:
            if planned.claims is not None:
                planned.claims.close()
        outcomes = []
        for row, outcome, action_id in planned.outcomes:
            error = failures.get(action_id) if action_id else None
            if error:
                row.problems = [RowProblem("row", f"Not saved: {error}")]
                outcome = "invalid"
            outcomes.append((row, outcome))
        self.on_chunk(planned.rows, outcomes, planned.rows[-1].line)

    # --- dedupe --------------------------------------------------------------------

    def _plan(self, rows: list[Row]) -> Planned:
        planned = Planned(rows)
        valid = [row for row in rows if row.contact]
        for row in rows:
            if not row.contact:
                planned.outcomes.append((row, "invalid", None))
        if self.policy == "create" and not any(row.contact.get("externalId") for row in valid):
            for row in valid:
                self._add_create(planned, row)
            self.contacts.prepare_bulk(self.workspace_id, planned.actions.values(), self.dry_run)
            return planned

        keys_of = {row.line: self._keys(row.contact) for row in valid}  # once per row
        keys = {key for row_keys in keys_of.values() for key in row_keys}
        if self.policy == "update" and any(key in self.recent for key in keys):
            # Updating a contact this file wrote moments ago needs its current version.
            self._refresh()
        existing = self._lookup(keys) if keys else {}
        if not self.dry_run:
            planned.claims = GiveClaims(self.contacts.claims, self.contacts.keys, self.workspace_id)
            args = (planned.claims, valid, existing, self.recent, self._free_slots)
            for row in claim_chunk_gives(*args):  # the id another request is giving
                planned.outcomes.append((row, "invalid", None))
                valid.remove(row)
        in_chunk: dict[str, str] = {}  # key -> id of the action that carries it
        # A created row's keys are its document's: kept unless a row merges into it (not
        # under `create`: keys_of holds the external id only). tests/unit/test_plan_keys.py
        created_keys: dict[str, tuple[str, ...] | None] = {}
        for row in valid:
            row_keys = keys_of[row.line]
            own_id = row_contact_id(self.import_id, row.line)
            target = next((in_chunk[k] for k in row_keys if k in in_chunk), None)
            in_file = self.file_keys.add_all(row_keys)
            if target is not None:
                row.duplicate, row.duplicate_of = "inFile", target
            if target is None:
                hit = next((existing[k] for k in row_keys if k in existing), None)
                if hit and hit["_id"] == own_id:
                    hit = None  # this very row, written by an attempt that died
                repeated = any(k in self.recent for k in row_keys) or (
                    self.seen is not None and any(k in self.seen for k in row_keys)
                )
                if hit is not None or repeated:
                    row.duplicate = "inFile" if in_file or hit is None else "existing"
                    recent = next((self.recent[k] for k in row_keys if k in self.recent), None)
                    row.duplicate_of = hit["_id"] if hit else recent
                if hit is None and repeated:  # an earlier row of this file, not yet searchable
                    outcome = "updated" if self.policy == "update" else "skipped"
                    planned.outcomes.append((row, outcome, None))
                    continue
                if hit is None:
                    action_id = self._add_create(planned, row, own_id)
                    created_keys[action_id] = row_keys if self.policy != "create" else None
                    for key in row_keys:
                        in_chunk.setdefault(key, action_id)
                    continue
                if self.policy != "update":  # skip; or create, whose key is the external id
                    planned.outcomes.append((row, "skipped", None))
                    continue
                target = hit["_id"]
                if target not in planned.actions:
                    planned.actions[target] = self._update_action(hit)
            if self.policy != "update":
                planned.outcomes.append((row, "skipped", None))
                continue
            action = planned.actions[target]
            created_keys.pop(target, None)
            try:
                action["_source"] = merge_into(action["_source"], row.contact)
            except ValidationError as exc:  # e.g. more numbers than a contact may hold
                row.problems = [RowProblem(d["field"], d["message"]) for d in exc.details]
                planned.outcomes.append((row, "invalid", None))
                continue
            planned.outcomes.append((row, "updated", target))
            for key in row_keys:
                in_chunk.setdefault(key, target)
        written: dict[str, str] = {}
        self.contacts.prepare_bulk(self.workspace_id, planned.actions.values(), self.dry_run)
        for action_id, action in planned.actions.items():
            keys = created_keys.get(action_id)
            for key in dedupe_keys(action["_source"]) if keys is None else keys:
                written[key] = action["_id"]
                if self.seen is not None:
                    self.seen.add(key)
        if not self.dry_run:
            self._recent_chunks.append((self._chunk_no, written))
            self.recent.update(written)
        return planned

    def _refresh(self) -> None:
        """Wait for the bulk in flight, make everything written searchable, forget it."""
        self._settle()
        if not self.dry_run:
            self.client.indices.refresh(index=self.names.write)
        self._refreshed_no = self._settled_no
        self._recent_chunks = [c for c in self._recent_chunks if c[0] > self._settled_no]
        self.recent = {k: v for _, keys in self._recent_chunks for k, v in keys.items()}

    def _keys(self, contact: dict) -> tuple[str, ...]:
        """What a row dedupes by: everything, or only its external id under `create`."""
        keys = dedupe_keys(contact)
        return tuple(k for k in keys if k.startswith("x:")) if self.policy == "create" else keys

    def _add_create(self, planned: Planned, row: Row, own_id: str | None = None) -> str:
        contact = row.contact
        contact["id"] = own_id or row_contact_id(self.import_id, row.line)
        slot = self._free_slots.get(contact.get("externalId"))
        if slot:
            # Created under the external id's slot, if still free (app/services/keys.py):
            # a batch upsert racing this import meets it there instead of duplicating it.
            contact["id"] = slot
        planned.actions[contact["id"]] = self._action(contact)
        if slot:
            planned.actions[contact["id"]]["_op_type"] = "create"
        planned.outcomes.append((row, "created", contact["id"]))
        return contact["id"]

    def _action(self, contact: dict) -> dict:
        return self.contacts.bulk_action(contact)

    def _update_action(self, hit: dict) -> dict:
        # Compare-and-set on the version read: a concurrent edit fails this row, not the file.
        version = (hit["_seq_no"], hit["_primary_term"])
        return self.contacts.bulk_action(from_source(hit["_source"]), version)

    def _lookup(self, keys: set[str]) -> dict[str, dict]:
        """Existing contacts of the workspace holding any of `keys`: one search per chunk."""
        found: dict[str, dict] = {}
        external = [k[2:] for k in keys if k.startswith("x:")]
        if external:
            # Real time (the slots, then the field): an external id has one holder.
            resolved = self.contacts.keys.resolve(self.workspace_id, "externalId", external)
            fold_resolved(resolved, found, self._free_slots)
        phones = [k[2:] for k in keys if k.startswith("p:")]
        emails = [k[2:] for k in keys if k.startswith("e:")]
        if not phones and not emails:
            return found
        should = []
        # Every number and address (the lists); `phone`/`email` for documents written
        # before the lists existed and not reindexed yet.
        if phones:
            should += [{"terms": {"phones.number": phones}}, {"terms": {"phone": phones}}]
        if emails:
            should += [{"terms": {"emailAddresses": emails}}, {"terms": {"email": emails}}]
        result = self.client.search(
            index=self.names.read,
            routing=self.workspace_id,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"workspaceId": self.workspace_id}},
                            {"bool": {"should": should, "minimum_should_match": 1}},
                        ]
                    }
                },
                # Oldest first, so a key held by several contacts resolves to the original.
                "sort": [{"createdAt": "asc"}, {"id": "asc"}],
                "size": min(10_000, 2 * len(keys)),
                "seq_no_primary_term": True,
                "_source": {"excludes": ["phoneDigits", "fullNameExact"]},
            },
        )
        for hit in result["hits"]["hits"]:
            for key in dedupe_keys(hit["_source"]):
                if not key.startswith("x:"):  # resolved above, in real time
                    found.setdefault(key, hit)
        return found


def _bulk_error(info: dict) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        if error.get("type") == "version_conflict_engine_exception":
            return "the contact changed during the import; import the row again."
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error or f"status {info.get('status')}")
