"""MergeStore: the `merges` index, where merge records and redirects live (routed by
workspace). app/services/merges.py states the protocol that uses them.

- A record (`merge_<random>`, kind "merge") says who merged what, when, the sources as
  they were and, once completed, where each value of the survivor came from.
- A redirect (kind "redirect") has the merged-away contact's own id: a read of that id
  finds its survivor in one real-time get, and creating it is the claim on the source.
  A claim is a compare-and-set (`op_type=create`, or `if_seq_no` to take over a redirect
  no longer in force), so of two merges claiming one source exactly one succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opensearchpy import ConflictError, NotFoundError, OpenSearch

from app.search.indices import IndexNames

# Contacts present in a workspace among some ids: id -> anything (MergeService._read).
ReadContacts = Callable[[str, list[str]], dict]


class MergeStore:
    def __init__(self, client: OpenSearch, index_prefix: str, read_contacts: ReadContacts) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "merges")
        self.read_contacts = read_contacts

    def find(self, doc_id: str, workspaces: Iterable[str], kind: str) -> dict | None:
        """A document of this kind in one of the token's workspaces (real time)."""
        workspaces = sorted(workspaces)
        if len(doc_id) > 64 or not workspaces:
            return None
        docs = [{"_id": doc_id, "routing": ws} for ws in workspaces]
        result = self.client.mget(index=self.names.read, body={"docs": docs}, realtime=True)
        for doc in result["docs"]:
            source = doc.get("_source")
            if doc.get("found") and source.get("kind") == kind:
                if source.get("workspaceId") in workspaces:
                    return source
        return None

    def save(self, record: dict, **options) -> None:
        self.client.index(
            index=self.names.write,
            id=record["id"],
            routing=record["workspaceId"],
            body=record,
            refresh=options.pop("refresh", "false"),
            **options,
        )

    def redirects(self, workspace_id: str, contact_ids: list[str]) -> dict[str, dict]:
        """The redirects of these ids, each with its version (`_cas`)."""
        docs = [{"_id": contact_id, "routing": workspace_id} for contact_id in contact_ids]
        result = self.client.mget(index=self.names.read, body={"docs": docs}, realtime=True)
        found = {}
        for doc in result["docs"]:
            source = doc.get("_source")
            if doc.get("found") and source.get("kind") == "redirect":
                if source["workspaceId"] == workspace_id:
                    found[doc["_id"]] = {**source, "_cas": (doc["_seq_no"], doc["_primary_term"])}
        return found

    def redirect(self, workspace_id: str, contact_id: str) -> dict | None:
        return self.redirects(workspace_id, [contact_id]).get(contact_id)

    def claims_in_force(self, workspace_id: str, contact_ids: list[str]) -> dict[str, dict]:
        """The redirects of these ids that still mean "merged". One left by a finished
        merge on an id a contact holds again (an id derived from an external id or an
        import row, created anew) no longer does, and a new merge may take it over."""
        claims = self.redirects(workspace_id, contact_ids)
        live = self.read_contacts(workspace_id, list(claims)) if claims else {}
        for contact_id in [c for c in claims if c in live]:
            record = self.find(claims[contact_id]["mergeId"], [workspace_id], "merge")
            if record is None or record["status"] != "started":
                del claims[contact_id]
        return claims

    def put_claim(self, redirect: dict) -> bool:
        """Create the redirect, or replace one that is no longer in force, each as a
        compare-and-set: of two merges only one can succeed. False when another holds it."""
        workspace_id, source_id = redirect["workspaceId"], redirect["id"]
        options: dict = {"op_type": "create"}
        for _ in range(3):
            try:
                self.client.index(
                    index=self.names.write,
                    id=source_id,
                    routing=workspace_id,
                    body=redirect,
                    **options,
                )
                return True
            except ConflictError:
                old = self.redirect(workspace_id, source_id)
                if old is None:  # given back meanwhile: create it again
                    options = {"op_type": "create"}
                elif source_id in self.claims_in_force(workspace_id, [source_id]):
                    return False
                else:
                    options = {"if_seq_no": old["_cas"][0], "if_primary_term": old["_cas"][1]}
        return False

    def give_back(self, workspace_id: str, contact_ids: list[str]) -> None:
        for contact_id in contact_ids:
            try:
                self.client.delete(index=self.names.write, id=contact_id, routing=workspace_id)
            except NotFoundError:
                pass

    def stale(self, older_than_seconds: float) -> list[dict]:
        """Records still `started` after this long (their process may have died)."""
        self.client.indices.refresh(index=self.names.read)  # records are written unrefreshed
        result = self.client.search(
            index=self.names.read,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"kind": "merge"}},
                            {"term": {"status": "started"}},
                            {"range": {"createdAt": {"lte": f"now-{int(older_than_seconds)}s"}}},
                        ]
                    }
                },
                "size": 100,
            },
        )
        return [hit["_source"] for hit in result["hits"]["hits"]]
