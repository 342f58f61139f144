# The portal's commands. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV_STAMP := .venv/.synced
WEB_ASSETS := web/node_modules/.package-lock.json

# The test suite's PostgreSQL server and Redis database (number 14 is flushed by the suite).
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/14

.PHONY: help install web-assets run test test-unit test-fast fuzz bench bench-cpu bench-catalogue faults import-catalogue lint format services clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

# Bytecode compiled at install, as the image does (UV_COMPILE_BYTECODE): with
# PYTHONDONTWRITEBYTECODE set and no .pyc, every process start compiles every module it imports
# again — most of a start's CPU (issue 15). The project's own modules too (an editable install).
$(VENV_STAMP): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	.venv/bin/python -m compileall -q services portal web
	@touch $@

install: $(VENV_STAMP) ## install uv if missing, then the locked dependencies into .venv

$(WEB_ASSETS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web-assets: $(WEB_ASSETS) ## the pages' npm packages as locked (axe-core for the browser tests; Bootstrap's CSS is vendored)

run: install ## start the whole portal at http://127.0.0.1:8000 (Ctrl-C stops it)
	PORTAL_CAPTCHA=$${PORTAL_CAPTCHA:-test} $(UV) run --frozen portal run

services: ## check PostgreSQL and Redis, start (or install) them when down; install nginx, chromium, npm when missing
	@deploy/local/ensure-services.sh

test: install services web-assets ## run the whole test suite (real PostgreSQL, Redis, Celery workers, SMTP, Chromium)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(UV) run --frozen pytest

test-unit: install ## the fast tier alone (tests/unit): in-process, no server, PostgreSQL or Redis; under a minute
	$(UV) run --frozen pytest tests/unit -q

test-fast: install services web-assets ## the suite without the fault tests
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(UV) run --frozen pytest -m "not fault"

fuzz: install services ## fuzz every public endpoint from its OpenAPI schema (schemathesis; FUZZ_EXAMPLES=5)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(UV) run --frozen pytest -m fuzz -s

bench-catalogue: install services ## catalogue search/detail vs a trivial endpoint, 1,601 and 20,000 procedures
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(UV) run --frozen python -m bench.catalogue

bench-cpu: install services ## CPU per request, process by process: the gateway and nginx → portal serve (issue 15; ~5 min)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(UV) run --frozen python -m bench.cpu

bench: install services ## the benchmarks of issues 5, 12 and 15: CPU per request by process, catalogue, dossiers, e-mail delivery, notifier, memory, the pages (20–30 min on 2 cores)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(UV) run --frozen python -m bench.cpu
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(UV) run --frozen python -m bench.catalogue
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(UV) run --frozen python -m bench.portal
	cd bench/lighthouse && npm ci --no-audit --no-fund --loglevel=error
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(UV) run --frozen python -m bench.web

faults: install services ## fault suite: kills, Redis/SMTP/PostgreSQL outages, poison message under load (~8 min; FULL=1: the issue's durations, ~12 min)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(UV) run --frozen pytest faults -q -s -p no:cacheprovider $(if $(FULL),--full)

import-catalogue: install ## import or update the catalogue from ../shared/data (CATALOGUE_LAYOUT=2023 for the old layout)
	$(UV) run --frozen portal import-catalogue

lint: install ## ruff (lint, formatting) and mypy (types of services/, portal/, web/)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

format: install ## ruff: fix what can be fixed and format
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

clean: ## remove the virtualenv and the local data folder (var/)
	rm -rf .venv var
