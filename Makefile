# Quick start: `make run` loads the bundled sample days, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
START ?= 2024-01-01
STOP ?= 2024-01-04

.PHONY: install run test psql stop-db clean bench

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Every day of [START, STOP) that is not loaded yet (STOP is exclusive).
run: install
	$(BIN)/luigi --module pipeline RangeDaily --of SnapshotHistory --start $(START) --stop $(STOP)

test: install
	$(BIN)/pytest

# psql on the embedded server (or on PIPELINE_PG_DSN when set)
psql: install
	$(BIN)/python -m pipeline.localdb psql

stop-db: install
	$(BIN)/python -m pipeline.localdb stop

clean: stop-db
	rm -rf output

# The scale benchmark (about an hour at full size; see docs/benchmarks.md)
bench: install
	$(BIN)/python -m bench.run
