"""Benchmarks, each beside its raw-engine baseline measured in the same run.

Run from the repository root, one at a time or all together:

    python -m bench                 every benchmark, then BENCHMARKS.md (`make bench`)
    python -m bench --report        only rebuild BENCHMARKS.md from bench-results/
    python -m bench.create          create: API vs raw single-document index
    python -m bench.dnc             DNC cache memory and check latency vs raw Redis
    python -m bench.search          search latency through the API vs the engine's took
    python -m bench.imports         CSV import vs a plain _bulk of the same documents
    python -m bench.load            bounded mixed-traffic load run
    python -m bench.relevance       FEBRL relevance beside rapidfuzz (`make relevance`)
    python -m bench.demo_reindex    a reindex while a client writes through the API

Shared pieces (the engine client of the baselines, a local API under gunicorn, timing
and result files) are in `bench.benchlib`. Fake data comes from `devtools.fakedata`.
"""
