# Billfold: `make run` sets everything up and serves; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app

.PHONY: run test lint screenshots clean messages translations bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# The compiled catalogs (.mo) are built from translations/*/LC_MESSAGES/messages.po, not committed.
translations: $(VENV)/.runtime
	$(BIN)/python scripts/i18n.py compile

# After marking new strings: extract them and add them (empty) to every language's catalog.
messages: $(VENV)/.runtime
	$(BIN)/python scripts/i18n.py messages

run: translations
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) run --host 127.0.0.1 --port 5000

test: $(VENV)/.dev translations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The benchmarks of bench/ in one run: one table and bench/RESULTS.md (BENCH_ARGS="--clients 2000" for a quick one).
bench: $(VENV)/.dev translations
	bash bench/run.sh $(BENCH_ARGS)

screenshots: $(VENV)/.dev
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
