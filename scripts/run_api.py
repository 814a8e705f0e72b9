"""Start the API with gunicorn in the foreground, and the background worker beside it.

SIGTERM or Ctrl-C stops both: gunicorn finishes in-flight requests, the worker its job.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
    args = parser.parse_args()
    env = dict(os.environ, PORT=str(args.port), PYTHONPATH=str(ROOT))
    children = [
        subprocess.Popen([sys.executable, str(ROOT / "scripts" / "worker.py")], env=env, cwd=ROOT)
    ]
    print(f"[api] http://127.0.0.1:{args.port}  (docs at /docs, spec at /openapi.json)")
    children.append(
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            env=env,
            cwd=ROOT,
        )
    )

    def stop(signum, frame) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Serve until gunicorn exits (signal or crash), then make sure the worker stops too.
    children[1].wait()
    stop(signal.SIGTERM, None)
    for child in children:
        child.wait(timeout=60)


if __name__ == "__main__":
    main()
