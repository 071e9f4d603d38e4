# VM Persona: two commands set up everything on a fresh Debian 12 machine (as root).
#   make run    install what is missing, migrate, seed the demo, start everything
#   make test   install what is missing and run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install system venv lint format typecheck test-postgres guest-image testbed-up testbed-down clean bench

install: system venv

system:
	@bash scripts/install-system.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: install
	@bash scripts/run.sh

test: install
	@bash scripts/test.sh $(PYTEST_ARGS)

test-postgres: install
	@bash scripts/test.sh --postgres $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: venv
	$(VENV)/bin/mypy profiles_app operations_app vmpersona

guest-image: install
	@bash scripts/build-guest-image.sh

testbed-up: install
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py persona testbed up

testbed-down: venv
	$(PY) manage.py persona testbed down

bench: install
	@for f in bench/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
