# Telltale: `make dev` runs the whole system locally, `make test` tests it. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam

.PHONY: peer-clients dev test lint typecheck validate package openapi unit integration e2e bench clean system-deps install

$(STAMP): requirements/dev.txt requirements/peer-tornado.txt layers/common/requirements.txt pyproject.toml clients/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/dev.txt
	$(BIN)/pip install -q -e . -e clients/
	$(BIN)/pip install -q --upgrade --no-deps --target $(VENV)/peer/tornado-analytics -r requirements/peer-tornado.txt
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

PORT ?= 3000

dev: $(STAMP)
	$(BIN)/telltale dev --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/common/python/telltale local/telltale_local functions

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli
	touch $@

validate: $(SAM_VENV)/.installed
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml

# Deployable artifacts without Docker: the layer's dependencies as wheels for the Lambda platform.
package: $(STAMP)
	$(BIN)/python scripts/package.py

# The API description (functions/api_docs/openapi.json and swagger.html), after changing a route.
openapi: $(STAMP)
	$(BIN)/python functions/api_docs/describe.py

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# The api-analytics Node client and Express, for the compatibility tests (npm; the tests skip without it).
PEER_APPS := tests/e2e/apianalytics/peer_apps
$(PEER_APPS)/node_modules/.package-lock.json: $(PEER_APPS)/package.json $(PEER_APPS)/package-lock.json
	if command -v npm >/dev/null; then cd $(PEER_APPS) && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm is missing: the Express api-analytics compatibility test will be skipped" >&2; fi

peer-clients: $(PEER_APPS)/node_modules/.package-lock.json

test: $(STAMP) system-deps peer-clients lint typecheck validate package
	rm -rf build/pytest && $(BIN)/pytest -q -p no:cacheprovider --basetemp=build/pytest

bench: $(STAMP)
	for b in benchmarks/*.py; do [ "$$(basename $$b)" = harness.py ] || { echo "== $$b"; $(BIN)/python $$b; }; done

clean:
	rm -rf build .aws-sam .pytest_cache .mypy_cache .ruff_cache

# The API analytics dashboard's bundle is committed (functions/dashboard/static), so `make test` needs no
# npm; rebuild it after editing dashboard/src.
.PHONY: dashboard
dashboard:
	cd dashboard && npm ci --no-audit --no-fund && npm run build
