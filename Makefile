# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DB ?= sqlite:///./pitboard.db
DEMO_CONTACTS ?= 20000
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: env demo serve test lint typecheck pytest browser lock bench clean

# The environment: a virtualenv with the locked dependencies and pitboard installed editable.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

env: $(STAMP)

# Migrate, generate ~20k realistic contacts (once), and serve UI + API on http://127.0.0.1:8000
demo: env
	PITBOARD_DATABASE_URL=$(DEMO_DB) $(BIN)/pitboard demo --contacts $(DEMO_CONTACTS)
	PITBOARD_DATABASE_URL=$(DEMO_DB) $(BIN)/pitboard serve --host $(HOST) --port $(PORT)

serve: env
	PITBOARD_DATABASE_URL=$(DEMO_DB) $(BIN)/pitboard serve --host $(HOST) --port $(PORT)

# Lint, format check, types, then every test on SQLite and (when a server answers) PostgreSQL.
test: env browser lint typecheck pytest

lint: env
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: env
	$(BIN)/mypy

pytest: env
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# Browser tests drive Debian's chromium (Playwright's own browser download cannot run here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: the browser tests will be skipped (apt-get install chromium)"; fi; }

# Re-resolve the pinned dependency set after editing pyproject.toml.
lock: env
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

bench: env
	$(BIN)/python -m bench.bench_model --contacts 100000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
