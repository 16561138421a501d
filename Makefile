# Two commands matter: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Serving needs only the production requirements; the tools of test, lint and typecheck come on top.
PROD_STAMP := $(VENV)/.installed-production
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve keys test install install-dev lint typecheck pytest test-lnbits lnbits-venv test-faults test-kill bench lock clean

$(PROD_STAMP): requirements-production.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11" >&2; exit 1; }
	@echo "==> creating $(VENV) and installing the pinned production dependencies"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-production.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

$(DEV_STAMP): $(PROD_STAMP) requirements-dev.txt
	@echo "==> installing the pinned development tools (tests, lint, typecheck)"
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

install: $(PROD_STAMP)

install-dev: $(DEV_STAMP)

DATA ?= data

NODE ?= ACINQ
SERVICE_ENV = MCP_MASTER_KEY_FILE=$(DATA)/master.key MCP_ADMIN_API_KEY_FILE=$(DATA)/admin.key MCP_DATA_DIR=$(DATA) \
	MCP_SANDBOX_LND_DIR=$(DATA)/sandbox-lnd

# Embedded defaults: MongoDB-wire server under $(DATA)/mongo, in-process cache, keys generated once (0600),
# and a simulated LND node registered, synced and in shadow mode in the tenant `demo` (app/cli/demo.py).
run: install keys
	@echo "==> API on http://$(HOST):$(PORT) with a simulated $(NODE) node (admin key: $(DATA)/admin.key)"
	$(SERVICE_ENV) $(BIN)/python -m app demo --node "$(NODE)" --host $(HOST) --port $(PORT)

# The API alone on the same defaults, without the demo node.
serve: install keys
	@echo "==> API on http://$(HOST):$(PORT)  (admin key: $(DATA)/admin.key)"
	$(SERVICE_ENV) $(BIN)/uvicorn app.main:create_app --factory --host $(HOST) --port $(PORT)

keys: install
	@mkdir -p $(DATA) && chmod 700 $(DATA)
	@test -f $(DATA)/master.key || $(BIN)/python -m app vault genkey --out $(DATA)/master.key
	@$(BIN)/python -m app admin-key --out $(DATA)/admin.key

lint: install-dev
	$(BIN)/ruff check app scripts tests
	$(BIN)/ruff format --check app scripts tests

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest -q -m "not faults and not kill and not lnbits and not deploy and not browser"

# A real LNbits 1.6.2 in its own virtualenv (it needs pydantic 1), funded by the LND simulator; the script
# is a no-op once the venv matches its pins, and the tests skip only when the package index is unreachable.
lnbits-venv:
	bash scripts/lnbits_venv.sh

test-lnbits: install-dev lnbits-venv
	$(BIN)/pytest -q -m lnbits

# The slow suites, run by `make test` after the rest; each prints its counts. They run for minutes, so
# the stack dump meant for a hung test comes later than the suite-wide 240 s.
SLOW_SUITE = $(BIN)/pytest -q -s -o faulthandler_timeout=1700

test-faults: install-dev
	$(SLOW_SUITE) -m faults

test-kill: install-dev
	$(SLOW_SUITE) -m kill

# Suites with their own tools (nginx, systemd-analyze, Chromium, promtool ...) live in one fragment each under
# mk/; a fragment defines its target and appends it to EXTRA_TESTS, which `make test` runs last.
EXTRA_TESTS :=
-include mk/*.mk

test: lint typecheck pytest test-lnbits test-faults test-kill $(EXTRA_TESTS)

bench: install-dev
	$(BIN)/python scripts/bench_engine.py
	$(BIN)/python scripts/bench_node_client.py
	$(BIN)/python scripts/bench_api.py
	$(BIN)/python scripts/bench_execution.py

# Regenerate the pinned requirement files from pyproject.toml; the production file carries hashes
# (pip then installs it in --require-hashes mode, as the Docker image does).
lock: install
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile -q pyproject.toml --python-version 3.11 --generate-hashes -o requirements-production.txt
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements-dev.txt

clean:
	rm -rf $(VENV) .venv-lnbits .mypy_cache .ruff_cache .pytest_cache
