"""Each workspace's calling policy: one document per workspace in `calling_policies`.

The document's id is the workspace id, so a read is one real-time GET (a policy saved a
moment ago governs the very next evaluation) and a write replaces the whole policy in one
index operation: a reader sees the old policy or the new one, never a mix. The policy is
kept as the API's validated JSON under an unindexed object (region keys are data, not
fields: a hundred overrides must not grow the mapping). Writes may be conditional on the
version read (`If-Match`), the compare-and-set that keeps two editors from losing each
other's change.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensearchpy import ConflictError, NotFoundError, OpenSearch

from app.errors import PreconditionFailed
from app.search.indices import IndexNames


@dataclass(frozen=True)
class StoredPolicy:
    policy: dict
    updated_at: str
    updated_by: str | None
    seq_no: int
    primary_term: int

    @property
    def etag(self) -> str:
        return f'"{self.primary_term}-{self.seq_no}"'


class PolicyStore:
    def __init__(self, client: OpenSearch, index_prefix: str) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "calling_policies")

    def get(self, workspace_id: str) -> StoredPolicy | None:
        """The workspace's stored policy, read in real time; None when it has none."""
        # Most workspaces never save one: their 404 is an answer, not a failure to log.
        doc = self.client.get(index=self.names.read, id=workspace_id, realtime=True, ignore=404)
        if not doc.get("found"):
            if "error" in doc:  # the index itself is missing: a deployment fault (503)
                raise NotFoundError(404, doc["error"].get("type", "not_found"), doc)
            return None
        return _stored(doc["_source"], doc["_seq_no"], doc["_primary_term"])

    def put(
        self,
        workspace_id: str,
        policy: dict,
        *,
        updated_at: str,
        updated_by: str | None,
        expected: tuple[int, int] | None = None,
        refresh: str | None = None,
    ) -> StoredPolicy:
        """Replace the policy; with `expected` (primary term, seq_no), only over that version."""
        source = {
            "workspaceId": workspace_id,
            "policy": policy,
            "updatedAt": updated_at,
            "updatedBy": updated_by,
        }
        condition = {}
        if expected:
            condition = {"if_primary_term": expected[0], "if_seq_no": expected[1]}
        try:
            result = self.client.index(
                index=self.names.write,
                id=workspace_id,
                body=source,
                refresh=refresh or "false",
                **condition,
            )
        except ConflictError:
            raise PreconditionFailed("The policy has changed since it was read.") from None
        return _stored(source, result["_seq_no"], result["_primary_term"])


def _stored(source: dict, seq_no: int, primary_term: int) -> StoredPolicy:
    return StoredPolicy(
        source["policy"], source["updatedAt"], source.get("updatedBy"), seq_no, primary_term
    )
