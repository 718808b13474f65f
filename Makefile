# Retail pipeline: `make demo` runs one date end to end; `make test` runs the tests.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup env servers db-init seed up down status logs demo test faults test-containers lint typecheck bench bench-backfill bench-marts bench-metrics bench-files bench-stream prometheus-deps lock browser-deps clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the project with its dev tools

env: ## Write .env from .env.example with fresh secrets (keeps an existing .env)
	@$(PY) suite/envfile.py

servers: setup ## Make sure PostgreSQL, Redis and NATS JetStream answer (reuse or start private ones)
	@command -v nats-server >/dev/null 2>&1 || test -x /usr/sbin/nats-server || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null)
	@$(PYTHON) -m suite.servers

db-init: setup env ## Apply database/init/NN_*.sql in order to DATABASE_URL
	@$(BIN)/retail db-init

seed: setup env ## Seed the retailers for a date range: make seed START=2024-01-15 END=2024-01-16
	@$(BIN)/retailers seed --start $(START) --end $(or $(END),$(START))

up: setup env ## Start the local stack (servers, S3, retailers, services) in the background
	@$(BIN)/retail up

down: ## Stop exactly what `make up` started
	@test -x $(BIN)/retail && $(BIN)/retail down || true

status: ## Show what runs
	@$(BIN)/retail status

logs: ## Follow every process's log, each line prefixed with its process
	@$(BIN)/retail logs

demo: setup env ## README command 1: bring the stack up and push one date through the suite
	@$(BIN)/retail demo $(if $(DATE),--date $(DATE))

browser-deps: ## Install Debian's chromium for the browser test (when missing)
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

prometheus-deps: ## Install Debian's prometheus (prometheus, promtool) for the observability tests (when missing)
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null)

test: setup servers browser-deps prometheus-deps ## README command 2: the test suite on real PostgreSQL, Redis, S3, Celery
	$(BIN)/pytest -q -m "not faults and not containers" $(PYTEST_ARGS)

faults: setup servers ## The fault suite (tests/faults, ~6 min): a fault injected mid-run, exact totals after
	$(BIN)/pytest -q -m faults tests/faults $(PYTEST_ARGS)

test-containers: setup servers ## Build every image with Podman and run the suite in containers (tests/containers)
	@bash tests/containers/prepare.sh
	$(BIN)/pytest -q -m containers tests/containers $(PYTEST_ARGS)

lint: setup ## ruff on everything
	$(BIN)/ruff check .

typecheck: setup ## mypy on shared/ and services/
	$(BIN)/mypy

bench-files: setup servers ## retailer5's file inbox->marts vs a bare COPY: make bench-files LINES=1000000
	$(PYTHON) -m bench.bench_files $(if $(LINES),--lines $(LINES)) $(if $(RSS_LINES),--rss-lines $(RSS_LINES))

bench: setup servers ## The benchmarks (not part of CI): make bench LINES=1000000 [PG=private] [STATEMENTS=1]
	$(PYTHON) -m bench.run $(if $(LINES),--lines $(LINES)) $(if $(PG),--postgres $(PG)) $(if $(STATEMENTS),--statements)

bench-backfill: setup servers ## Backfill years of small dates: the per-date cost against history (DAYS=1100 LINES=10000 [PG=private])
	$(PYTHON) -m bench.bench_backfill --days $(or $(DAYS),1100) --lines-per-day $(or $(LINES),10000) $(if $(PG),--postgres $(PG))

bench-marts: setup servers ## Marts refresh: SQL models vs the old plpgsql function, one run (LINES=1000000)
	$(PYTHON) -m bench.bench_marts --lines $(or $(LINES),1000000) --json bench/results/marts-$$(date -u +%Y%m%dT%H%M%SZ)-$(or $(LINES),1000000).json

bench-metrics: setup servers ## The cost of a GET /metrics scrape with 1,000 runs stored (bench/bench_metrics.py)
	$(PYTHON) -m bench.bench_metrics $(if $(RUNS),--runs $(RUNS))

bench-stream: setup servers ## The stream benchmark (retailer4 on NATS): make bench-stream EVENTS=100000 RSS=100000,1000000
	$(PYTHON) -m bench.bench_stream $(if $(EVENTS),--events $(EVENTS)) $(if $(RATE),--rate $(RATE)) $(if $(RSS),--rss $(RSS))

LOCK_VENV := .data/lock-venv
# The dependency groups the images install (./Dockerfile); the lock pins them all, and each
# image's build uses it as constraints.
IMAGE_GROUPS := retailers ingestion beat transformation quality setup flower
LOCK_HEADER := \# Runtime dependencies of the images, locked. Made by `make lock`: the [project] dependencies and every image group of pyproject.toml installed into a fresh venv (constrained to the versions locked before, unless UPGRADE=1), then `pip freeze`. Do not edit by hand.

lock: ## Regenerate requirements.lock from pyproject.toml (make lock UPGRADE=1: newest allowed)
	rm -rf $(LOCK_VENV) && $(PY) -m venv $(LOCK_VENV)
	$(PY) -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; groups = p["optional-dependencies"]; print("\n".join(p["dependencies"] + [d for g in sys.argv[1:] for d in groups[g] if not d.startswith(p["name"])]))' $(IMAGE_GROUPS) > $(LOCK_VENV)/requirements.in
	$(LOCK_VENV)/bin/pip install -q -r $(LOCK_VENV)/requirements.in $(if $(UPGRADE),,$(if $(wildcard requirements.lock),-c requirements.lock))
	{ echo '$(LOCK_HEADER)'; $(LOCK_VENV)/bin/pip freeze; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf $(LOCK_VENV)

clean: down ## Remove local data and logs (.data/)
	rm -rf .data
