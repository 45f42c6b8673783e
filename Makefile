# Everything a newcomer needs: `make run` to use the portal, `make test` to check it.
# Both create .venv and install on first use; nothing else needs installing by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8100
# Local runs are development runs; production sets its own environment (see README, Deploying).
export DEBUG ?= 1
# Debian's Chromium drives the browser tests; point this elsewhere if yours lives somewhere else.
export PORTAL_CHROMIUM ?= /usr/bin/chromium
PYTEST_WORKERS ?= auto

.DEFAULT_GOAL := help
.PHONY: help install migrate run demo sandbox check-deploy test test-fast chromium lint format check clean bench
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the portal with its test tools

migrate: $(STAMP) ## Apply database migrations (SQLite file db.sqlite3 unless DATABASE_URL is set)
	$(BIN)/python manage.py migrate --noinput

run: migrate ## Set up, migrate and serve the portal on http://127.0.0.1:8000, with its background worker
	@# The background worker (scheduled checks, alerts) runs beside the server and stops with it.
	$(BIN)/python manage.py qcluster & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

demo: $(STAMP) ## Serve the portal against the sandbox with a ready demo team (own database)
	DATABASE_URL=sqlite:///demo.sqlite3 $(BIN)/python manage.py migrate --noinput
	DATABASE_URL=sqlite:///demo.sqlite3 $(BIN)/python manage.py demo --host $(HOST) --port $(PORT) --sandbox-port $(SANDBOX_PORT)

sandbox: $(STAMP) ## Serve the local stand-in of both upstream APIs on port 8100 and print its tokens
	$(BIN)/python manage.py sandbox --port $(SANDBOX_PORT)

chromium: ## Make sure a Chromium is there for the browser tests (installs Debian's as root)
	@if [ -x "$(PORTAL_CHROMIUM)" ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }; \
	else \
		echo "No Chromium at $(PORTAL_CHROMIUM). Install one (Debian: apt-get install chromium)"; \
		echo "or run: make test PORTAL_CHROMIUM=/path/to/chromium"; \
		exit 1; \
	fi

test: $(STAMP) chromium ## Set up, then run the whole test suite (browser tests included)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test-fast: $(STAMP) ## Run the suite without the browser tests
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not browser"

check-deploy: $(STAMP) ## Run Django's deploy checks with production settings (as CI does)
	DEBUG=0 SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	PORTAL_ENCRYPTION_KEYS="$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	ALLOWED_HOSTS=portal.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

lint: $(STAMP) ## Lint, check formatting, the direction of imports and types
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP) ## Format the code and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## Remove the virtualenv, the SQLite database and collected static files
	rm -rf $(VENV) db.sqlite3 demo.sqlite3 staticfiles .pytest_cache .ruff_cache

bench: $(STAMP) ## Run the benchmarks (local PostgreSQL and Redis; figures in BENCHMARKS.md)
	$(BIN)/python bench/run.py
