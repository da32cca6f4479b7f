# avflow developer tasks. `make run` sets everything up and starts the service on the bundled
# demo; `make test` runs the whole test suite (core and every plugin).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
AVFLOW_HOME ?= $(CURDIR)/.avflow-home
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))

.PHONY: setup run test lint fix typecheck clean

setup: $(VENV)/.installed $(VENV)/.sample-installed

$(VENV)/.installed: pyproject.toml requirements-dev.txt $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e . $(foreach p,$(PLUGINS),-e "$(p)[test]") -r requirements-dev.txt
	touch $@

# The core tests' sample plugin is for `make setup`/`make test` only; `make run` takes it out.
$(VENV)/.sample-installed: $(VENV)/.installed tests/sample-plugin/pyproject.toml
	$(BIN)/pip install -q -e tests/sample-plugin
	touch $@

run: $(VENV)/.installed
	@rm -f $(VENV)/.sample-installed
	@if $(BIN)/python -c "import importlib.util as u, sys; sys.exit(not u.find_spec('avflow_sample'))"; \
		then $(BIN)/pip uninstall -q -y avflow-sample; fi
	$(BIN)/python workflows/_samples/seed.py
	AVFLOW_HOME=$(AVFLOW_HOME) $(BIN)/avflow --workflows workflows run

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src plugins tests bench
	$(BIN)/ruff format --check src plugins tests bench

fix: setup
	$(BIN)/ruff check --fix src plugins tests bench
	$(BIN)/ruff format src plugins tests bench

typecheck: setup
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .avflow-home .pytest_cache .mypy_cache .ruff_cache
