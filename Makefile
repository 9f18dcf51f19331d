# The front door. `make up` runs the whole system locally; `make test` runs every check.
# Both install what is missing first. See README.md for ports and configuration.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
# `make up REDIS=sentinel`: Redis with a replica and three Sentinels; `make up REDIS=cluster`: a
# Redis Cluster of three primaries (docs/gateway.md, "Redis topologies").
REDIS ?= single
export REDIS
LOCAL := deploy/local
UV := uv run --all-packages --locked --no-sync

.PHONY: help doctor install infra migrate up down status logs lint typecheck protocol-check test test-only
.PHONY: bench bench-worker bench-gateway bench-fanout bench-full bench-deps bench-people bench-search loadtest
.PHONY: web web-test screenshots
.PHONY: keys
.PHONY: k8s-check chaos

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

doctor:  ## every prerequisite with the version found, and what to install when one is missing
	@$(LOCAL)/doctor.sh

install:  ## install what is missing (Debian packages, uv, Python workspace, Kafka jars, SeaweedFS)
	@$(LOCAL)/install.sh

infra: install  ## start Postgres, Redis, Kafka and SeaweedFS (idempotent)
	@$(LOCAL)/stack.sh up

migrate: infra  ## apply the database migrations
	@$(UV) chat-migrate upgrade head

keys: install  ## make the auth service's development signing key when there is none
	@$(LOCAL)/keys.sh

up: migrate web keys  ## run the whole system locally (REDIS=sentinel or REDIS=cluster)
	@$(LOCAL)/services.sh start
	@$(LOCAL)/nginx.sh start
	@printf '\nThe chat is up: https://localhost:8443/\n'

down:  ## stop every process of the local system
	@$(LOCAL)/nginx.sh stop
	@$(LOCAL)/services.sh stop
	@$(LOCAL)/stack.sh down

status:  ## which local processes run
	@$(LOCAL)/stack.sh status
	@$(LOCAL)/services.sh status
	@$(LOCAL)/nginx.sh status

logs:  ## follow the logs of every local process
	@tail -n 20 -F .run/logs/*.log

# mypy checks each package on its own (every one has a tests/conftest.py), all with one cache:
# the libraries they share are analysed once, which on a fresh clone takes the step from about
# 160 s to 70 s. A module of the same name in two packages is told apart by its path.
lint: install  ## ruff (lint and format) and mypy --strict
	@$(UV) ruff check .
	@$(UV) ruff format --check .
	@for package in services/*/; do \
	  (cd $$package && MYPY_CACHE_DIR=$(CURDIR)/.mypy_cache MYPYPATH=src:tests $(UV) mypy --config-file $(CURDIR)/pyproject.toml src tests); \
	done
	@MYPYPATH=services/gateway/tests:tests/e2e $(UV) mypy --config-file pyproject.toml tests

# The validators are installed when missing or older than their lock file.
PROTOCOL_DEPS := docs/protocol/node_modules/.package-lock.json
$(PROTOCOL_DEPS): docs/protocol/package-lock.json
	@npm ci --prefix docs/protocol --no-audit --no-fund --silent

protocol-check: $(PROTOCOL_DEPS)  ## validate the protocol's AsyncAPI and OpenAPI documents (offline)
	@node docs/protocol/validate.mjs docs/protocol/asyncapi.yaml docs/protocol/openapi.yaml docs/protocol/people.openapi.yaml docs/protocol/search.openapi.yaml docs/protocol/attachments.openapi.yaml

k8s-check: install  ## validate k8s/, compose.yaml and the Dockerfiles offline (no Docker, no cluster)
	@deploy/validate/check.sh

# What the tests need first does not depend on one part on another: three parts run at a time
# (on a fresh machine k8s-check's tool downloads and builds, the web build and the start of
# Kafka overlap mypy), each one's output kept together.
BEFORE_TESTS := lint protocol-check k8s-check migrate web web-test keys
# The tests mostly wait on the services they start (a serial run used 0.83 of the two cores),
# so two pytest processes share them, each taking whole test files (a module's system is started
# once) and each with its own session fixtures; the slowest tests are listed at the end.
test:  ## lint, type-check, then every test against the real services
	@$(MAKE) --no-print-directory -j3 --output-sync=target $(BEFORE_TESTS)
	@$(UV) pytest -n 2 --dist loadfile --durations=30

test-only:  ## the tests alone, with the stack already up (make test-only ARGS='-k kafka')
	@$(UV) pytest $(ARGS)

bench: bench-worker bench-fanout  ## the benchmarks, short (under 10 min): worker, then the fan-out side by side

bench-worker: migrate  ## persistence worker: sustained rows/s, produce-to-row lag p50/p99
	@$(UV) python loadtests/bench_worker.py $(ARGS)

# The fan-out benchmark (loadtests/bench, docs/benchmarks.md). Its own processes on free ports;
# Postgres and Kafka are the local stack's.
BENCH := PYTHONPATH=loadtests:services/gateway/tests $(UV) python -m bench

bench-deps: install  ## the benchmarks' own packages (uv group bench) and Centrifugo, when missing
	@loadtests/bench/install.sh

bench-fanout: migrate web bench-deps  ## this chat beside Centrifugo, Socket.IO, FastAPI, picows; short; .run/bench/
	@$(BENCH) $(ARGS)

bench-full: migrate web bench-deps  ## the documented run (~25 min, with a gateway profile) into docs/benchmarks.md
	@$(BENCH) --full --profile --publish $(ARGS)

# The person's room list at deployment size (loadtests/bench_people.py, docs/benchmarks.md): seeds
# its own database once (loadtests/seed_people.py, a few minutes), starts its own Redis, auth
# service and gateway; Postgres and Kafka are the local stack's.
bench-people: install  ## GET /v1/me/rooms for people in 1,000 rooms among 100k people and 10M messages
	@uv sync --all-packages --locked --group bench -q
	@PYTHONPATH=loadtests:services/gateway/tests $(UV) python loadtests/bench_people.py $(ARGS)

# Message search at deployment size (loadtests/bench_search.py, docs/benchmarks.md): the same
# seed as bench-people, migrated to head; plants a rare word for the run and puts it back.
bench-search: install  ## GET /v1/search's statements for people in 1,000 and 15 rooms over 10M messages
	@uv sync --all-packages --locked --group bench -q
	@PYTHONPATH=loadtests $(UV) python loadtests/bench_search.py $(ARGS)

bench-gateway: up  ## gateway: connections held and memory each, deliveries/s with p50/p99 latency
	@$(UV) python loadtests/bench_gateway.py $(ARGS)

# make loadtest: locust users against the running system (`make up`); within its default
# per-address limits at these numbers (docs/benchmarks.md says how to lift them for more).
USERS ?= 50
SPAWN_RATE ?= 2
DURATION ?= 2m
LOADTEST_HOST ?= https://localhost:8443
LOADTEST_OUT ?= .run/loadtest

loadtest: install  ## locust chat users through nginx (USERS=50 SPAWN_RATE=2 DURATION=2m); reports in .run/loadtest/
	@mkdir -p $(LOADTEST_OUT)
	@$(UV) locust -f loadtests/locustfile.py --headless --users $(USERS) --spawn-rate $(SPAWN_RATE) \
	  --run-time $(DURATION) --host $(LOADTEST_HOST) --csv $(LOADTEST_OUT)/chat \
	  --html $(LOADTEST_OUT)/chat.html --chat-summary $(LOADTEST_OUT)/tally.json $(ARGS)
	@printf 'reports: %s/chat.html, %s/chat_stats.csv, %s/tally.json\n' $(LOADTEST_OUT) $(LOADTEST_OUT) $(LOADTEST_OUT)

# The long fault run (loadtests/chaos, docs/reliability.md "Faults"): gateways, worker, auth
# service, Redis and a Kafka broker of its own on free ports, the local Postgres behind a proxy;
# then every property test with the long hypothesis profile. `make test` runs the short versions.
# `make chaos ARGS=--publish` writes the results into docs/reliability.md.
FUZZ := $(addprefix services/gateway/tests/,test_protocol_fuzz.py test_commands_fuzz.py test_room_state_fuzz.py test_room_state_real.py)

chaos: migrate  ## every fault under steady traffic, 3 rounds, with the checker; then fuzzing at length (over an hour)
	@PYTHONPATH=loadtests:services/gateway/tests $(UV) python -m chaos $(ARGS)
	@HYPOTHESIS_PROFILE=chaos $(UV) pytest -q $(FUZZ)

# The web app's packages are installed when missing or older than its lock file.
WEB_DEPS := web/node_modules/.package-lock.json
$(WEB_DEPS): web/package-lock.json
	@npm ci --prefix web --no-audit --no-fund --loglevel=error

web: $(WEB_DEPS)  ## build the web app into web/dist (type-check, then vite build)
	@npm run --prefix web --silent build

web-test: $(WEB_DEPS)  ## the web app's unit tests (Vitest)
	@npm test --prefix web --silent

screenshots: migrate web  ## photograph the main screens into docs/screenshots/ (own processes)
	@PYTHONPATH=tests/e2e:services/gateway/tests $(UV) python tests/e2e/screenshots.py
