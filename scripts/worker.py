"""Run the background worker (app/worker.py): python scripts/worker.py"""

from app.worker import main

if __name__ == "__main__":
    main()
