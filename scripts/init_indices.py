"""Create the versioned indices and their aliases from index_mappings/ (idempotent)."""

from __future__ import annotations

from app.config import Config
from app.jobs import config_dict
from app.search.indices import ensure_all
from app.wiring import opensearch_client


def main() -> None:
    client = opensearch_client(config_dict(Config), background=True)
    for name, index in ensure_all(client, Config.INDEX_PREFIX).items():
        print(f"[indices] {Config.INDEX_PREFIX}{name} -> {index}")


if __name__ == "__main__":
    main()
