# Quick start: `make run` (the whole stack) and `make test` (the whole suite).
# Each target sets up what it needs: the venv, the dependencies, the embedded database.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Development defaults (safe, local secrets); override on the command line or in the environment.
export DEBUG ?= 1
# The test suite gets its own embedded cluster, apart from `make run`'s data.
TEST_PG_DIR ?= $(CURDIR)/.embedded/pg-test
PYTEST_ARGS ?=
# Commands that need a database: DATABASE_URL when set, else the test cluster (started
# for the command and stopped after it).
ifdef DATABASE_URL
WITH_DB :=
else
WITH_DB := $(PY) -m controlplane.embedded_pg exec --dir $(TEST_PG_DIR) --fast --
endif

.PHONY: run test lint format venv browser clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)." >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Development settings (DEBUG, generated secrets) go to a git-ignored .env, written once,
# which manage.py loads; so `.venv/bin/python manage.py ...` by hand works the same way.
run: venv
	$(PY) -m controlplane.devenv init
	$(PY) manage.py rundev

# Debian's chromium for the admin's browser tests (Playwright drives it; it downloads nothing).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get install -y -q chromium >/dev/null 2>&1 || \
			 (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) || \
			echo "warning: could not install chromium; browser tests will fail." >&2; \
		else echo "warning: install Debian's chromium for the browser tests." >&2; fi; }

test: venv browser
	$(WITH_DB) $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(WITH_DB) $(PY) manage.py check
	$(WITH_DB) $(PY) manage.py makemigrations --check --dry-run

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	-$(PY) -m controlplane.embedded_pg stop
	-$(PY) -m controlplane.embedded_pg stop --dir $(TEST_PG_DIR)
	@# A cluster whose socket path would be too long lives in a /tmp twin (see embedded_pg).
	-find .embedded -name runtime -type l -exec sh -c 'rm -rf "$$(readlink -f "$$1")"' _ {} \;
	rm -rf .embedded .static .media
