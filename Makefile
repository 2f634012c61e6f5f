# The two commands of the README:  `make run`  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test lint system-deps docker bench

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

run: $(STAMP)
	@scripts/ensure-system.sh && scripts/ensure-docker.sh || echo "warning: no Docker engine: validations cannot run until one is available" >&2
	$(VENV)/bin/codegen-bot serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) docker lint
	$(VENV)/bin/pytest -q

bench: $(STAMP) docker
	$(PY) bench/ingress.py
