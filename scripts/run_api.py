"""Start the API with gunicorn in the foreground (and the background worker beside it)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
    args = parser.parse_args()
    env = dict(os.environ, PORT=str(args.port), PYTHONPATH=str(ROOT))
    workers = []
    worker_script = ROOT / "scripts" / "worker.py"
    if worker_script.exists():
        workers.append(subprocess.Popen([sys.executable, str(worker_script)], env=env, cwd=ROOT))
    print(f"[api] http://127.0.0.1:{args.port}  (docs at /docs, spec at /openapi.json)")
    try:
        subprocess.run(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            env=env,
            cwd=ROOT,
            check=False,
        )
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)


if __name__ == "__main__":
    main()
