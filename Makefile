# mlplatform — the two commands a fresh machine needs: `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
PYTEST_ARGS ?=
TEST_DATABASE_URL ?= postgres://mlplatform:mlplatform@127.0.0.1:5432/mlplatform
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-faults bench-e2e venv services tools testbed-build testbed-up testbed-down testbed-status lint fmt bench deploy check-deploy clean

venv: .venv/.installed
.venv/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv .venv
	.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

## Run the whole platform (web + worker + beat, local testbed unless KARMADA_KUBECONFIG_PATH is set)
run: venv
	MLPLATFORM_LOCAL=1 scripts/run.sh

# debian: the PostgreSQL and Redis of scripts/test-services.sh (CI); embedded: the servers
# from Python wheels that `make run` uses, started for the run under var/test-engines.
TEST_ENGINES ?= debian

## Run every test on real PostgreSQL, Redis, Celery and the local testbed
test: venv services tools
ifeq ($(TEST_ENGINES),embedded)
	$(PY) -m mlplatform.embedded --var-dir var/test-engines -- $(PY) -m pytest $(PYTEST_ARGS)
else
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)
endif

## Inject faults into the platform in its production shape (own PostgreSQL, Redis, testbed)
test-faults: venv
	TESTBED_HOME=$${TESTBED_HOME_FAULTS:-$(CURDIR)/.testbed-faults} \
	TESTBED_PORT_BASE=$${TESTBED_PORT_BASE_FAULTS:-24000} \
	$(PY) -m pytest -c faults/pytest.ini faults $(PYTEST_ARGS)

services:
	TEST_ENGINES=$(TEST_ENGINES) scripts/test-services.sh

# Deployment checkers (hadolint, shellcheck, docker-compose client, Compose v2 built once).
tools: venv
	k8s/tests/install-tools.sh --compose-v2

## Validate the deployment artefacts only (server-side dry runs need the testbed)
check-deploy: venv services tools
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest k8s/tests $(PYTEST_ARGS)

testbed-build:
	testbed/build.sh

testbed-up: venv
	$(PY) testbed/testbed.py up

testbed-down: venv
	$(PY) testbed/testbed.py down

testbed-status: venv
	$(PY) testbed/testbed.py status

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

fmt: venv
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

## Print the performance figures: in-process benchmarks, then the end-to-end run
bench: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) scripts/bench.py
	$(MAKE) bench-e2e

# The platform in its production shape on a testbed of its own (.testbed-bench, ports from
# 23000): BENCH_E2E_JOBS=1000,100 jobs through 16 clients (see scripts/bench_e2e.py).
bench-e2e: venv
	$(PY) scripts/bench_e2e.py

deploy:
	k8s/deploy.sh

clean:
	rm -rf var .pytest_cache
