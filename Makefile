# Entry points for developers and CI. `make run`: the stack on this machine with a demo
# project; `make test`: the whole suite against real PostgreSQL, Redis and Kafka.
# All local state (servers' data, logs, pids, addresses) lives in .local/ (PostgreSQL's
# cluster may sit in /var/tmp behind .local/pg: it goes with .local/); `make clean`
# deletes all of it.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# pyenv and venvs provide `python`; a bare Debian has only `python3`.
PYTHON ?= $(shell command -v python >/dev/null 2>&1 && echo python || echo python3)
SERVICES_ENV := .local/services.env
# Recipes that run project code get the servers' addresses as RA_* variables.
WITH_ENV := set -a && . $(SERVICES_ENV) && set +a &&

.PHONY: system install services migrate test faults lint stop clean run

# Debian packages (servers and test tools), installed when missing: one list for
# `make run`, `make test` and .ci/run (scripts/system_packages.sh).
system:
	scripts/system_packages.sh

install: system
	$(PYTHON) -m pip install -e '.[dev]'
	$(PYTHON) -m pip install -e 'sdks/python[aiohttp]'

services:
	scripts/services.sh start

migrate: services
	$(WITH_ENV) $(PYTHON) -m migrations

# The slowest tests are listed at the end: CI must stay under 30 minutes, so the tests
# marked `long` run with `make faults` only.
test: install services
	$(PYTHON) -m pytest -m "not long" --durations=15

# The fault suite with its long outages (30 s), on a server set of its own under
# .local/faults (`make test` runs it with 10 s ones), and the other tests marked as
# faults (the sharded crash test's second cluster is that set's PostgreSQL): docs/faults.md.
faults: install
	FAULTS=long $(PYTHON) -m pytest -m "faults or long" tests

lint:
	ruff check . && ruff format --check . && mypy

stop:
	scripts/apps.sh stop
	scripts/services.sh stop

# Stops everything and deletes every server's data and .local/ (the next `make run`
# starts empty: Kafka and PostgreSQL together, never one without the other).
clean:
	scripts/apps.sh stop
	scripts/services.sh clean

# Idempotent: running servers and apps are reused, migrations apply only what is new,
# the demo project keeps its keys while .local/demo.env still matches them, and the demo
# load is sent once a day (its insertIds repeat within a day, so a re-run adds nothing).
run: install services migrate
	PYTHON=$(PYTHON) scripts/apps.sh start
	$(WITH_ENV) $(PYTHON) scripts/demo_project.py
	$(PYTHON) scripts/load_demo.py
	@set -a && . .local/demo.env && set +a && \
	  echo && echo "Dashboard: $$RA_APP_URL/dashboard/   (ops view: $$RA_APP_URL/dashboard/ops)" && \
	  echo "Log in as $$RA_DEMO_EMAIL, password $$RA_DEMO_PASSWORD"
