# The quick start: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install demo admin test test-matrix lint bench docs docs-serve

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[project,test,embedded,docs]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py railway_demo

# After make demo: the admin against the demo's stand-in Railway, log in as demo / demo.
ADDRPORT ?= 127.0.0.1:8000
admin: install
	$(PY) manage.py railway_demo --admin $(ADDRPORT)

# Chromium, ChromeDriver, a PostgreSQL with TLS and openssl, from Debian, when missing
# (as root, or through sudo): the browser and round-trip tests need them.
test: install
	bash scripts/system-packages
	$(PY) -m pytest

# Every supported row (Python x Django x psycopg2/psycopg 3, PostgreSQL 15 on either side), each
# in a virtualenv of its own under .nox/ (noxfile.py). One row:
#   .venv/bin/nox -s "tests(py3.13, django6.1, psycopg)" -- tests/test_sync.py
test-matrix: install
	bash scripts/system-packages
	$(VENV)/bin/nox

# The sync benchmark against pg_dump | psql and pgcopydb (apt-get install pgcopydb), measured
# in the same run: ANIMALS=1000000 make bench for the million-row figures.
ANIMALS ?= 200000
bench: install
	$(PY) -m benchmarks.sync --animals $(ANIMALS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The documentation site: regenerate the pages made from the code, then build site/ (broken
# links, missing pages or anchors fail the build). docs-serve serves it at 127.0.0.1:8001.
docs: install
	$(PY) scripts/docs.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

DOCS_ADDR ?= 127.0.0.1:8001
docs-serve: install
	$(PY) scripts/docs.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict --dev-addr $(DOCS_ADDR)
