# costsync: two commands on a fresh machine: `make run`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: run test dev lint bench bench-cloud bench-prices db-status clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Land the bundled samples (data/samples/usage and data/samples/cloud) through the inbox into
# the embedded SQLite warehouse (or COSTSYNC_DATABASE_URL) and print a summary.
run: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	@inbox=$${COSTSYNC_INBOX:-data/inbox}; mkdir -p $$inbox/usage $$inbox/cloud; \
	  cp -n data/samples/usage/* $$inbox/usage/ 2>/dev/null || true; \
	  cp -n data/samples/cloud/*.json data/samples/cloud/*.csv $$inbox/cloud/ 2>/dev/null || true
	$(BIN)/costsync run

test: $(STAMP)
	$(BIN)/pytest -n 2 -q

dev: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -w workspace.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check costsync_pipeline costsync_pipeline_tests bench

bench: $(STAMP)
	$(BIN)/python bench/bench_usage_ingest.py

bench-cloud: $(STAMP)
	$(BIN)/python bench/bench_cloud_ingest.py

bench-prices: $(STAMP)
	$(BIN)/python bench/bench_pricing.py
	$(BIN)/python bench/bench_recost.py

db-status: $(STAMP)
	$(BIN)/costsync db status

clean:
	rm -rf .costsync .dagster data/inbox
