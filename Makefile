# The two commands of the README:  `make run`  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test lint system-deps docker compose second-docker postgres bench

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

## Debian packages the validators and their tests need (Docker engine, debootstrap, Chromium)
system-deps:
	scripts/ensure-system.sh

## a running Docker daemon and the locally built base image
docker: system-deps
	scripts/ensure-docker.sh

## `docker compose` v2 and buildx (CLI plugins from Debian's packages, no registry) for tests/e2e/test_compose_up.py;
## without it that test is skipped, except under CI=true where a failed install fails here
compose: docker
	@scripts/ensure-compose.sh || { [ "$${CI:-}" != true ] && echo "warning: no docker compose v2: tests/e2e/test_compose_up.py will be skipped" >&2; }

## a PostgreSQL server with the tests' role (the store suite runs on SQLite and on PostgreSQL)
postgres:
	scripts/ensure-postgres.sh

run: $(STAMP)
	@scripts/ensure-system.sh && scripts/ensure-docker.sh || echo "warning: no Docker engine: validations cannot run until one is available" >&2
	$(VENV)/bin/codegen-bot serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## a second Docker engine (own socket, data root and network namespace) for the DOCKER_HOSTS tests;
## without it those tests are skipped, except under CI=true where it is a failure
second-docker: docker
	@scripts/ensure-second-docker.sh >/dev/null || { [ "$${CI:-}" != true ] && echo "warning: no second Docker engine: the DOCKER_HOSTS tests will be skipped" >&2; }

test: $(STAMP) docker compose second-docker postgres lint
	$(VENV)/bin/pytest -q

bench: $(STAMP) docker
	$(PY) bench/ingress.py
