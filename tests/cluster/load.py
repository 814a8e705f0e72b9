"""Clients that keep writing and searching through the API while nodes come and go.

Every write is a create with a unique name; a 201 is an acknowledged write and its id
is kept, so afterwards each one can be read back. Every answer is counted by status
code; a 5xx other than a 503 carrying Retry-After is a failure of the service.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from tests.conftest import bearer


class Load:
    def __init__(self, app, workspace: str, writers: int = 2, readers: int = 2) -> None:
        self.app, self.workspace = app, workspace
        self.auth = bearer(workspace)
        self.acknowledged: dict[str, str] = {}  # id -> firstName
        self.statuses: Counter[str] = Counter()
        self.bad: list[tuple[str, int, object]] = []  # 5xx without Retry-After, non-JSON
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._write, args=(n,), daemon=True) for n in range(writers)
        ] + [threading.Thread(target=self._read, args=(n,), daemon=True) for n in range(readers)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _count(self, kind: str, response) -> None:
        # Every request is valid: the only acceptable failure is an honest "try again".
        retry_later = (
            response.status_code == 503
            and response.headers.get("Retry-After")
            and response.is_json
            and "error" in (response.json or {})
        )
        if response.status_code not in (200, 201) and not retry_later:
            self.bad.append((kind, response.status_code, response.get_data(as_text=True)[:300]))
        with self.lock:
            self.statuses[f"{kind} {response.status_code}"] += 1

    def answered(self) -> tuple[int, int]:
        """(acknowledged writes, whole read answers) so far."""
        with self.lock:
            reads = sum(v for k, v in self.statuses.items() if k in ("list 200", "search 200"))
            return len(self.acknowledged), reads

    def _write(self, writer: int) -> None:
        client, n = self.app.test_client(), 0
        while not self.stopping.is_set():
            name = f"W{writer}n{n}"
            response = client.post(
                "/v1/contacts",
                headers=self.auth,
                json={"workspaceId": self.workspace, "firstName": name, "company": "Loadco"},
            )
            self._count("write", response)
            if response.status_code == 201:
                with self.lock:
                    self.acknowledged[response.json["data"]["id"]] = name
            n += 1

    def _read(self, reader: int) -> None:
        client = self.app.test_client()
        while not self.stopping.is_set():
            if reader % 2:
                response = client.post(
                    "/v1/contacts/search",
                    headers=self.auth,
                    json={"workspaceId": self.workspace, "query": "loadco", "limit": 5},
                )
                self._count("search", response)
            else:
                response = client.get(
                    f"/v1/contacts?workspaceId={self.workspace}&limit=5", headers=self.auth
                )
                self._count("list", response)
            time.sleep(0.05)

    def wait_for_writes(self, count: int, timeout: float = 120) -> int:
        """Block until `count` writes are acknowledged (the app warms up slowly)."""
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(self.acknowledged) >= count, f"no load: {self.figures()}"
        return len(self.acknowledged)

    def missing_after(self) -> list[str]:
        """Acknowledged ids that a real-time GET does not return (should be none)."""
        client, missing = self.app.test_client(), []
        for contact_id, name in self.acknowledged.items():
            response = client.get(f"/v1/contacts/{contact_id}", headers=self.auth)
            if response.status_code != 200 or response.json["data"]["firstName"] != name:
                missing.append(contact_id)
        return missing

    def listed_total(self) -> int:
        response = self.app.test_client().get(
            f"/v1/contacts?workspaceId={self.workspace}&limit=1", headers=self.auth
        )
        assert response.status_code == 200, response.json
        return response.json["meta"]["total"]

    def figures(self) -> dict:
        return {
            "writes_acknowledged": len(self.acknowledged),
            "statuses": dict(sorted(self.statuses.items())),
            "bad_answers": len(self.bad),
        }
