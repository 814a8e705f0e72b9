"""Import files on disk: where they live, how many bytes a workspace holds, the sweep.

Layout: IMPORT_DIR/<environment>/<workspace>/<import id>/{upload.csv, errors.csv}, the
environment named after REDIS_KEY_PREFIX: environments (and test runs) sharing a disk
keep their records under different prefixes, and one's sweep must never judge the
other's files by its own records. A file lives no
longer than its import's record in Redis, which expires IMPORT_RETENTION_SECONDS after
the import finished:

- the upload is deleted when its run ends (completed or failed): nothing reads it again;
- errors.csv stays while the record does (the record links to it);
- the worker's periodic sweep deletes every folder whose record is gone (expired, or a
  process died between writing the file and saving the record) and any upload left
  beside a finished record. A folder touched within the grace period is left alone: an
  upload is written before its record exists.

A workspace holds at most `workspace_max_bytes` of these files, so one token at the
import rate limit cannot fill the disk: an upload past the cap is refused with 507.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from app.errors import ApiError, PayloadTooLarge

log = logging.getLogger(__name__)
UPLOAD, ERRORS = "upload.csv", "errors.csv"
COPY_BUFFER = 1024 * 1024
# Concurrent uploads of one workspace are re-measured this often while they stream:
# together they overshoot the cap by at most this much each.
RECHECK_BYTES = 8 * COPY_BUFFER


def environment_root(import_dir: str, key_prefix: str) -> Path:
    """This environment's folder under IMPORT_DIR."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", key_prefix).strip("._") or "default"
    return Path(import_dir) / name


class ImportStorageFull(ApiError):
    status, code = 507, "import_storage_full"
    message = "The workspace's import files are at their size limit."


class ImportFiles:
    def __init__(self, root: Path, workspace_max_bytes: int, orphan_grace_seconds: float) -> None:
        self.root = root
        self.workspace_max_bytes = workspace_max_bytes
        self.orphan_grace_seconds = orphan_grace_seconds

    def folder(self, workspace_id: str, import_id: str) -> Path:
        return self.root / workspace_id / import_id

    def workspace_bytes(self, workspace_id: str) -> int:
        """Bytes of every import file of the workspace now on disk."""
        total = 0
        for folder in _subfolders(self.root / workspace_id):
            for entry in _entries(folder):
                try:
                    total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    pass  # deleted while we counted
        return total

    def store(self, stream: BinaryIO, path: Path, workspace_id: str, max_bytes: int) -> int:
        """Copy the upload to `path`: at most `max_bytes`, and within the workspace's cap."""
        used = self.workspace_bytes(workspace_id)
        self._check_room(used)
        size = 0
        with path.open("wb") as out:
            while chunk := stream.read(COPY_BUFFER):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"The file is larger than {max_bytes} bytes.")
                self._check_room(used + size)
                out.write(chunk)
                if size % RECHECK_BYTES < len(chunk):  # crossed a recheck boundary
                    out.flush()
                    used = self.workspace_bytes(workspace_id) - size
                    self._check_room(used + size)
        return size

    def _check_room(self, total: int) -> None:
        if total > self.workspace_max_bytes:
            limit = self.workspace_max_bytes
            raise ImportStorageFull(
                f"The workspace's import files would pass {limit} bytes. Earlier uploads and "
                "error reports are removed when their imports expire; retry after that, "
                "or upload a smaller file.",
                details=[{"field": "file", "message": f"At most {limit} bytes per workspace."}],
            )

    def sweep(self, status_of: Callable[[str, str], str | None], final: tuple[str, ...]) -> int:
        """Delete folders whose record is gone and uploads of finished imports; the count."""
        removed = 0
        cutoff = time.time() - self.orphan_grace_seconds
        for workspace in _subfolders(self.root):
            for folder in _subfolders(workspace):
                if _last_touched(folder) > cutoff:
                    continue
                status = status_of(workspace.name, folder.name)
                if status is None:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
                elif status in final and (folder / UPLOAD).exists():
                    (folder / UPLOAD).unlink(missing_ok=True)
                    removed += 1
            if _last_touched(workspace) <= cutoff:
                try:
                    workspace.rmdir()  # only when empty; a concurrent upload makes it fail
                except OSError:
                    pass
        if removed:
            log.info("import sweep removed %s folders or uploads", removed)
        return removed


def _subfolders(path: Path) -> list[Path]:
    return [Path(e.path) for e in _entries(path) if e.is_dir(follow_symlinks=False)]


def _entries(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _last_touched(folder: Path) -> float:
    """The newest mtime of the folder and its files (an upload in progress keeps it fresh)."""
    newest = 0.0
    for entry in [*_entries(folder), folder]:
        try:
            newest = max(newest, os.stat(entry, follow_symlinks=False).st_mtime)
        except FileNotFoundError:
            pass
    return newest
