# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The packaged command line (pyproject.toml [project.scripts]); `contacts --help` lists it.
CONTACTS := $(VENV)/bin/contacts
PORT   ?= 8000
# Development tools run as modules from this folder (`python -m devtools.stack`,
# `python -m bench`), which puts bench/, devtools/ and tests/ on the import path; the
# editable install provides `app`.

.PHONY: cluster cluster-stop test-cluster assets chromium relevance reconcile venv services stop status indices run worker test lint format bench fuzz chaos reindex reindex-rollback clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

services: venv          ## start OpenSearch and Redis (reused when already up)
	$(PY) -m devtools.stack up

stop:                   ## stop the services this folder started
	$(PY) -m devtools.stack down

status:
	$(PY) -m devtools.stack status

indices: services       ## create the indices and aliases; reindex any older than its file
	$(CONTACTS) init-indices --upgrade

run: indices assets     ## the API on 127.0.0.1:$(PORT), plus the background worker
	@echo "[console] http://127.0.0.1:$(PORT)/console  development token (8 h, workspace ws_demo):"
	@$(CONTACTS) mint-token --workspace ws_demo --ttl 28800
	$(CONTACTS) serve --port $(PORT)

worker: indices         ## the background worker alone (imports, DNC reconciler)
	$(CONTACTS) worker

test: services assets chromium  ## the whole suite against the real servers
	$(PY) -m pytest -q

# A local three-node OpenSearch cluster (9201-9203, 512 MiB heaps) and a Redis of its own
# (6391), beside the single-node stack; indices get 1 replica and 3 shards there
# (`python -m devtools.stack env --nodes 3` prints the settings). docs/scaling.md.
CLUSTER_ENV = env $$($(PY) -m devtools.stack env --nodes 3 | sed 's/^export //')
CLUSTER_PORT ?= 8001
# The core of the API suite that must pass on the cluster, then the node-loss drills.
CLUSTER_SUITE ?= tests/api/test_contacts.py tests/api/test_search.py tests/api/test_imports.py \
	tests/api/test_dnc.py tests/integration/test_reindex.py tests/integration/test_partial_reads.py

cluster: venv assets    ## three OpenSearch nodes + Redis, and the API on them (port $(CLUSTER_PORT))
	$(PY) -m devtools.stack up --nodes 3
	$(CLUSTER_ENV) $(CONTACTS) init-indices
	@$(CLUSTER_ENV) $(CONTACTS) mint-token --workspace ws_demo --ttl 28800
	$(CLUSTER_ENV) $(CONTACTS) serve --port $(CLUSTER_PORT)

cluster-stop:           ## stop the cluster's nodes and its Redis (by pid file)
	$(PY) -m devtools.stack down --nodes 3

test-cluster: venv      ## the core suite and node-loss drills on the local cluster (not in make test)
	$(PY) -m devtools.stack up --nodes 3
	$(CLUSTER_ENV) CLUSTER_TESTS=1 $(PY) -m pytest -q -p no:cacheprovider $(CLUSTER_SUITE) tests/cluster

# The console's vendored browser assets (ReDoc for /docs), pinned by package-lock.json;
# npm ci runs no install scripts (app/console/.npmrc).
CONSOLE_MODULES := app/console/node_modules/.package-lock.json
$(CONSOLE_MODULES): app/console/package.json app/console/package-lock.json
	cd app/console && npm ci --no-fund --no-audit --loglevel=error
	touch $@

assets: $(CONSOLE_MODULES)

# Browser tests (tests/ui) drive Debian's chromium with Playwright; no browser download.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium from Debian packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: indices          ## every benchmark; writes BENCHMARKS.md
	$(PY) -m bench

$(VENV)/.bench-installed: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[dev,bench]'
	touch $@

relevance: services $(VENV)/.bench-installed  ## FEBRL + variant relevance beside rapidfuzz, and latency (LABEL=after)
	$(PY) -m bench.relevance --label $${LABEL:-current}

fuzz: services          ## long schemathesis run against /openapi.json
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(PY) -m pytest -q tests/fuzz

chaos: services          ## long randomized DNC run with faults (CHAOS_SECONDS, CHAOS_SEED)
	CHAOS_SECONDS=$${CHAOS_SECONDS:-600} CHAOS_SEED=$${CHAOS_SEED:-$$(date +%s)} $(PY) -m tests.chaos.runner

reconcile: services     ## compare every DNC cache with the record, repair drift (ARGS=--workspace ws_x)
	$(CONTACTS) reconcile $(ARGS)

reindex: services        ## next index version, aliases swapped atomically (INDEX=contacts ARGS=--dry-run)
	$(CONTACTS) reindex $(if $(INDEX),--index $(INDEX)) $(ARGS)

reindex-rollback: services  ## aliases back to the previous version, writes since copied back
	$(CONTACTS) reindex-rollback $(if $(INDEX),--index $(INDEX)) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
