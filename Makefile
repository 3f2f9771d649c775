# marathon: `make demo` to see the orderings, `make test` to prove them. `make help` lists the rest.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test lint typecheck check bench exercises notebooks docs docs-build screenshots lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

# The Compose specification's JSON schema, for validating docker-compose.yml without Docker:
# it ships inside the last docker-compose release on PyPI (only the wheel is fetched).
COMPOSE_WHEEL_VERSION := 1.29.2

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
		--dest $(VENV)/share/wheels docker-compose==$(COMPOSE_WHEEL_VERSION)
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned lock (idempotent)

# The demo's port: `make demo PORT=8300` (its sandbox beside it on PORT+25, unless
# MARATHON_SANDBOX_PORT says otherwise).
PORT ?= 8000

demo: $(STAMP) ## Run the main demo on embedded defaults (another port: make demo PORT=8300)
	$(BIN)/marathon demo --port $(PORT)

test: $(STAMP) ## Set up, then run lint, type checks and the whole test suite
	$(BIN)/ruff check marathon tests exercises tools
	$(BIN)/ruff format --check marathon tests exercises tools
	$(BIN)/mypy
	$(BIN)/pytest -n 2

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check marathon tests exercises tools
	$(BIN)/ruff format --check marathon tests exercises tools

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy

exercises: $(STAMP) ## Check your answers to the workshop exercises: one line each
	$(BIN)/marathon workshop check --all

notebooks: $(STAMP) ## Open the Jupyter walkthroughs: JupyterLab on notebooks/ (their kernel: this .venv's Python)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP) ## Benchmarks of the server from separate processes (docs/benchmarks.md)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y wrk; } \
		|| echo "wrk is not installed: the load comes from an httpx client instead"
	$(BIN)/marathon bench $(BENCH_ARGS)  # every benchmark, outage and shutdown included

docs: $(STAMP) ## Serve the documentation site on http://127.0.0.1:8001 (MkDocs; reloads on edit)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

docs-build: $(STAMP) ## Build the documentation site into site/ (strict: broken links fail)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

screenshots: $(STAMP) ## Retake the site's screenshots in Chromium and copy them to docs/screenshots
	$(BIN)/python -m tools.screenshots
	cp artifacts/screenshots/*.png docs/screenshots/

lock: ## Re-pin requirements.lock (runtime) and requirements-dev.lock from pyproject.toml
	$(BIN)/uv pip compile --quiet pyproject.toml --universal -o requirements.lock
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --universal -c requirements.lock \
		-o requirements-dev.lock

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
