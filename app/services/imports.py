"""ImportService: CSV imports of contacts, run inline (small files) or on the worker.

An import is a record in Redis (status, progress, counts, first errors, checkpoint)
plus two files under IMPORT_DIR: the upload and errors.csv, which live no longer than
the record (app/imports/files.py). The HTTP API, the worker and `contacts import`
all call `create` and `run`: one code path. What a record and its errors.csv contain
(a new record, a row's error or duplicate) is app/services/import_records.py; this
module keeps the lifecycle: create, run under a renewed lock, resume, recover.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

import redis
from opensearchpy import OpenSearch

from app import observability
from app.errors import NotFound, ValidationError, csv_error
from app.imports import (
    CsvFormatError,
    CsvLimits,
    MappingError,
    RowConverter,
    build_mapping,
    iter_csv_rows,
)
from app.imports.files import ERRORS, UPLOAD, ImportFiles, environment_root
from app.locks import RenewableLock
from app.search.documents import utc_now
from app.search.indices import IndexNames
from app.services.contacts import ContactService
from app.services.export import neutralize
from app.services.import_records import errors_writer, new_record, record_duplicate, record_error
from app.services.import_rows import Row, RowValidator
from app.services.import_runs import Counts, ImportRun

log = logging.getLogger(__name__)
FINAL = ("completed", "failed")

# Write the record only while holding the run's lock, and renew the lock in the same step.
_SAVE_IF_OWNER = """
if redis.call('get', KEYS[2]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2])
  redis.call('pexpire', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


class LockLost(RuntimeError):
    """Another run took over this import (ours stalled past the lock's lifetime)."""


class ImportService:
    def __init__(
        self,
        client: OpenSearch,
        redis_client: redis.Redis,
        contacts: ContactService,
        config: dict,
        enqueue: Callable[[str, str, int], None] | None = None,
        is_waiting: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.client = client
        self.redis = redis_client
        self.contacts = contacts
        self.config = config
        # Background jobs: queue attempt N of an import; is attempt N still waiting?
        self.enqueue = enqueue
        self.is_waiting = is_waiting or (lambda import_id, attempt: False)
        self.names = IndexNames(config["INDEX_PREFIX"], "contacts")
        self.prefix = config["REDIS_KEY_PREFIX"]
        self.files = ImportFiles(
            environment_root(config["IMPORT_DIR"], config["REDIS_KEY_PREFIX"]),
            config["IMPORT_WORKSPACE_MAX_BYTES"],
            config["IMPORT_ORPHAN_GRACE_SECONDS"],
        )
        self.limits = CsvLimits(
            max_line_chars=config["IMPORT_MAX_LINE_CHARS"],
            max_columns=config["IMPORT_MAX_COLUMNS"],
            max_field_chars=config["IMPORT_MAX_FIELD_CHARS"],
        )
        self._save_if_owner = self.redis.register_script(_SAVE_IF_OWNER)

    # --- keys and files --------------------------------------------------------------

    def _key(self, workspace_id: str, import_id: str) -> str:
        return f"{self.prefix}import:{{{workspace_id}}}:{import_id}"

    def _lock_key(self, workspace_id: str, import_id: str) -> str:
        return self._key(workspace_id, import_id) + ":lock"

    @property
    def _active_key(self) -> str:
        return f"{self.prefix}imports:active"

    def _dir(self, workspace_id: str, import_id: str) -> Path:
        return self.files.folder(workspace_id, import_id)

    def upload_path(self, record: dict) -> Path:
        return self._dir(record["workspaceId"], record["id"]) / UPLOAD

    def errors_path(self, record: dict) -> Path:
        return self._dir(record["workspaceId"], record["id"]) / ERRORS

    def sweep_files(self) -> int:
        """The worker's periodic clean-up: files whose import record is gone or finished."""

        def status_of(workspace_id: str, import_id: str) -> str | None:
            record = self.load(workspace_id, import_id)
            return record["status"] if record else None

        return self.files.sweep(status_of, FINAL)

    # --- records ---------------------------------------------------------------------

    def load(self, workspace_id: str, import_id: str) -> dict | None:
        raw = self.redis.get(self._key(workspace_id, import_id))
        return json.loads(raw) if raw else None

    def _save(self, record: dict) -> None:
        key = self._key(record["workspaceId"], record["id"])
        if record["status"] in FINAL:
            self.redis.set(key, json.dumps(record), ex=self.config["IMPORT_RETENTION_SECONDS"])
        else:
            self.redis.set(key, json.dumps(record))

    def get(self, import_id: str, workspaces: Iterable[str]) -> dict:
        """The import, looked for in the token's workspaces only (404 otherwise)."""
        if not import_id.startswith("imp_") or len(import_id) > 64:
            raise NotFound()
        for workspace_id in sorted(workspaces):
            record = self.load(workspace_id, import_id)
            if record:
                return record
        raise NotFound()

    def errors_file(self, import_id: str, workspaces: Iterable[str]) -> Path:
        path = self.errors_path(self.get(import_id, workspaces))
        if not path.exists():
            raise NotFound("This import has no error report.")
        return path

    # --- create ----------------------------------------------------------------------

    def create(
        self,
        stream: BinaryIO,
        options: dict,
        file_name: str | None = None,
        *,
        inline: bool | None = None,
        progress: Callable[[dict], None] | None = None,
    ) -> dict:
        """Store the upload, check it is CSV with a usable header, then run or queue it.

        `inline` None decides by size (IMPORT_SYNC_MAX_BYTES); True runs here whatever
        the size (the command line), reporting each chunk to `progress`.
        """
        workspace_id = options["workspaceId"]
        import_id = "imp_" + secrets.token_urlsafe(12)
        folder = self._dir(workspace_id, import_id)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            upload = folder / UPLOAD
            size = self.files.store(stream, upload, workspace_id, self.config["MAX_IMPORT_BYTES"])
            record = new_record(import_id, options, file_name, size)
            self._inspect(record, upload)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if record["status"] == "completed":  # empty or header-only: nothing to run
            self._save(record)
            return record
        if inline is None:
            inline = size <= self.config["IMPORT_SYNC_MAX_BYTES"] or self.enqueue is None
        if inline:
            self._save(record)
            try:
                record = self.run(workspace_id, import_id, progress)
            except Exception:
                # Inline runs have no worker to resume them: say so instead of "running".
                record = self.load(workspace_id, import_id) or record
                self._fail(record, "interrupted", "The import stopped; upload the file again.")
                self._save(record)
                raise
            if record["status"] == "failed":
                raise self._failure_error(record)
            return record
        self._save(record)
        self.redis.zadd(self._active_key, {f"{workspace_id}/{import_id}": time.time()})
        self.enqueue(workspace_id, import_id, 1)
        observability.record_import_job("queued")
        return record

    def _inspect(self, record: dict, path: Path) -> None:
        """Encoding, delimiter and header now, so a bad file or mapping is a 4xx at once."""
        with path.open("rb") as stream:
            try:
                parsed = iter_csv_rows(stream, self.limits)
                first_row = next(parsed.rows, None)
            except CsvFormatError as exc:
                raise csv_error(exc.message, exc.code) from exc
        if not parsed.header:
            self._finish_empty(record, "The file is empty.")
            return
        try:
            mapping = build_mapping(
                parsed.header,
                record["requestedMapping"],
                keep_unmapped=record["unmapped"] == "customFields",
            )
        except MappingError as exc:
            raise ValidationError(str(exc), details=exc.details) from exc
        record.update(
            encoding=parsed.encoding,
            delimiter=parsed.delimiter,
            mapping=mapping.describe(parsed.header),
            unmappedColumns=mapping.unmapped,
        )
        if not any(mapping.targets):
            raise ValidationError(
                "No column maps to a contact field.",
                details=[{"field": "mapping", "message": "Map at least one column."}],
            )
        if first_row is None:
            self._finish_empty(record, "The file has a header but no rows.")

    def _finish_empty(self, record: dict, warning: str) -> None:
        now = utc_now()
        record.update(status="completed", startedAt=now, finishedAt=now, warnings=[warning])
        record["progress"].update(rowsTotal=0, percent=100.0)
        self.upload_path(record).unlink(missing_ok=True)

    def _failure_error(self, record: dict):
        failure = record["failure"] or {}
        return csv_error(failure.get("message") or "The import failed.", failure.get("code"))

    # --- run -------------------------------------------------------------------------

    def run(
        self, workspace_id: str, import_id: str, progress: Callable[[dict], None] | None = None
    ) -> dict:
        """Run (or resume) an import to the end; safe to call again after a crash."""
        record = self.load(workspace_id, import_id)
        if record is None or record["status"] in FINAL:
            return record
        lock = RenewableLock(
            self.redis, self._lock_key(workspace_id, import_id), self.config["IMPORT_LOCK_SECONDS"]
        )
        # Renewed while this process lives, also through long steps (the first pass over
        # a big file, a slow bulk, the final refresh): only a dead run lets it expire.
        if not lock.acquire():
            log.info("import %s is already running elsewhere", import_id)
            return record
        token = lock.token
        try:
            record.update(status="running", attempts=record["attempts"] + 1)
            record["startedAt"] = record["startedAt"] or utc_now()
            self._save_owned(record, token)
            try:
                self._execute(record, token, progress)
            except CsvFormatError as exc:
                self._fail(record, exc.code, exc.message)
            self._save_owned(record, token)
            return record
        except LockLost:
            # Another run took over, or Redis lost the lock (a restart, a wipe): the record
            # says where the import stands, and the worker's recovery resumes it.
            log.warning("import %s: lock lost, leaving it to the new owner", import_id)
            return self.load(workspace_id, import_id) or record
        finally:
            lock.release()  # only if still ours: after a LockLost it belongs to the new owner

    def _fail(self, record: dict, code: str, message: str) -> None:
        observability.record_import_job("failed")
        record.update(status="failed", failure={"code": code, "message": message})
        record["finishedAt"] = utc_now()
        self.redis.zrem(self._active_key, f"{record['workspaceId']}/{record['id']}")
        self.upload_path(record).unlink(missing_ok=True)  # a failed import is not run again

    def _save_owned(self, record: dict, token: str) -> None:
        key = self._key(record["workspaceId"], record["id"])
        lock = self._lock_key(record["workspaceId"], record["id"])
        lock_ms = int(self.config["IMPORT_LOCK_SECONDS"] * 1000)
        if not self._save_if_owner(keys=[key, lock], args=[token, json.dumps(record), lock_ms]):
            raise LockLost()
        if record["status"] in FINAL:
            self.redis.expire(key, self.config["IMPORT_RETENTION_SECONDS"])

    def _execute(self, record: dict, token: str, progress: Callable[[dict], None] | None) -> None:
        path = self.upload_path(record)
        if record["progress"]["rowsTotal"] is None:
            # A first pass checks the whole structure before anything is written (a
            # broken file leaves no partial import) and gives progress its total.
            with path.open("rb") as stream:
                total = sum(1 for _ in iter_csv_rows(stream, self.limits).rows)
            record["progress"]["rowsTotal"] = total
            record["counts"]["total"] = total
            self._save_owned(record, token)
        counts = Counts(**record["counts"])
        resume_line = record["checkpoint"]["line"]
        with path.open("rb") as stream, errors_writer(self.errors_path(record), record) as errors:
            parsed = iter_csv_rows(stream, self.limits)
            mapping = build_mapping(
                parsed.header,
                record["requestedMapping"],
                keep_unmapped=record["unmapped"] == "customFields",
            )
            converter = RowConverter(
                parsed.header,
                mapping,
                record["workspaceId"],
                record["defaultCountry"],
                self.limits.max_field_chars,
            )
            error_file, writer = errors
            if error_file.tell() == 0:
                writer.writerow(["import_line", "import_error", *map(neutralize, parsed.header)])

            def on_chunk(rows: list[Row], outcomes: list[tuple[Row, str]], last_line: int):
                for row, outcome in outcomes:
                    setattr(counts, outcome, getattr(counts, outcome) + 1)
                    if outcome == "invalid":
                        record_error(record, writer, row)
                    elif row.duplicate:
                        record_duplicate(record, row, outcome)
                for outcome, count in Counter(outcome for _, outcome in outcomes).items():
                    observability.record_import_rows(outcome, count)
                error_file.flush()
                record["counts"] = asdict(counts)
                record["checkpoint"] = {"line": last_line, "errorsBytes": error_file.tell()}
                done, total = counts.done, record["progress"]["rowsTotal"] or 0
                record["progress"] = {
                    "rowsDone": done,
                    "rowsTotal": total,
                    "percent": round(100.0 * done / total, 1) if total else 100.0,
                }
                self._save_owned(record, token)
                if progress:
                    progress(record)

            run = ImportRun(
                self.client,
                self.names,
                RowValidator(converter, self.contacts),
                import_id=record["id"],
                workspace_id=record["workspaceId"],
                policy=record["onDuplicate"],
                dry_run=record["dryRun"],
                expected_rows=record["progress"]["rowsTotal"],
                chunk_rows=self.config["IMPORT_CHUNK_ROWS"],
                on_chunk=on_chunk,
            )
            rows = ((line, v) for line, v in parsed.rows if line > resume_line)
            run.run(rows, resumed=resume_line > 0)
        if not record["dryRun"]:
            # One refresh at the end: a list right after the import shows every row.
            self.client.indices.refresh(index=self.names.write)
        record.update(status="completed", finishedAt=utc_now())
        self.redis.zrem(self._active_key, f"{record['workspaceId']}/{record['id']}")
        path.unlink(missing_ok=True)
        observability.record_import_job("completed")

    # --- recovery --------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Re-queue imports whose run died (lock expired while queued or running)."""
        requeued = []
        cutoff = time.time() - self.config["IMPORT_LOCK_SECONDS"]
        for member, since in self.redis.zrange(self._active_key, 0, -1, withscores=True):
            workspace_id, _, import_id = member.decode().partition("/")
            record = self.load(workspace_id, import_id)
            if record is None or record["status"] in FINAL:
                self.redis.zrem(self._active_key, member)
                continue
            if self.redis.exists(self._lock_key(workspace_id, import_id)) or since > cutoff:
                continue  # running, or queued too recently to judge
            if record["status"] == "queued" and self.is_waiting(import_id, record["attempts"] + 1):
                continue
            if record["attempts"] >= self.config["IMPORT_MAX_ATTEMPTS"]:
                self._fail(record, "import_failed", "The import stopped too many times.")
                self._save(record)
                continue
            log.warning("import %s stalled; queueing attempt %s", import_id, record["attempts"] + 1)
            self.redis.zadd(self._active_key, {member: time.time()})
            self.enqueue(workspace_id, import_id, record["attempts"] + 1)
            requeued.append(import_id)
        return requeued
