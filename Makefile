# The two commands a fresh machine needs: `make run` and `make test`. Both install what they need into
# .venv first; the install is redone only when pyproject.toml changes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint typecheck unit bench services clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# One resolver run for everything, so CPU torch (pinned in pyproject) is chosen, not a CUDA build.
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev]'
	@touch $(STAMP)

run: install
	$(BIN)/concierge shop seed --demo --if-empty
	$(BIN)/concierge shell

services:
	@bash .ci/services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install services
	$(BIN)/pytest

test: lint typecheck unit

bench: install services
	$(BIN)/concierge bench tools

clean:
	rm -rf $(VENV) var reports .pytest_cache .mypy_cache .ruff_cache
