"""Create the versioned indices and their aliases from index_mappings/ (idempotent)."""

from __future__ import annotations

from app.config import Config
from app.extensions import OpenSearchExtension
from app.search.indices import ensure_all


def main() -> None:
    from flask import Flask

    app = Flask(__name__)
    app.config.from_object(Config)
    extension = OpenSearchExtension()
    extension.init_app(app)
    for name, index in ensure_all(extension.client, Config.INDEX_PREFIX).items():
        print(f"[indices] {Config.INDEX_PREFIX}{name} -> {index}")


if __name__ == "__main__":
    main()
