# ML Studio: `make run` to use it, `make test` to check it. Both set everything up on a fresh clone.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?=
PORT ?=
CHROMIUM ?= /usr/bin/chromium

.PHONY: run api test test-fast venv dev ray demo-data chromium lint fmt bench clean-venv

# Create the virtualenv and install the runtime requirements (again only when they change).
$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# Ray, for running jobs on a cluster (README, "Scaling out"); the suite starts a local one.
$(VENV)/.installed-ray: $(VENV)/.installed requirements-ray.txt
	$(PY) -m pip install --quiet -r requirements-ray.txt
	@touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev
ray: $(VENV)/.installed-ray

demo-data: venv
	$(PY) -m mlcore demo-data --if-missing

# Start the app on http://127.0.0.1:8501 (HOST=0.0.0.0 or PORT=8600 to change; see README).
run: venv demo-data
	$(PY) -m mlcore app $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)) $(ARGS)

# Start the HTTP API on http://127.0.0.1:8000 (docs at /docs; API_HOST=0.0.0.0 needs ML_STUDIO_API_TOKEN).
API_HOST ?= 127.0.0.1
API_PORT ?= 8000
api: venv demo-data
	$(PY) -m mlcore serve --host $(API_HOST) --port $(API_PORT) $(ARGS)

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installing Chromium for the browser tests (apt-get install -y chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing at $(CHROMIUM) and this user cannot install it." >&2; \
		echo "Run 'sudo apt-get install -y chromium' (or set CHROMIUM=/path/to/chromium), then 'make test' again." >&2; \
		exit 1; \
	fi

# The whole suite: lint and types first, then unit, integration (real CPU training), AppTest pages and browser tests.
test: dev ray chromium lint
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest $(PYTEST_ARGS)

# The fast part while you work: no real training beyond the shared tiny model, no browser, no Ray cluster.
test-fast: dev
	$(PY) -m pytest -m "not slow and not browser and not ray" $(PYTEST_ARGS)

# ruff, then mypy over mlcore/ (its settings in pyproject.toml).
lint: dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

fmt: dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: dev
	$(PY) benchmarks/demo_convergence.py
	$(PY) benchmarks/pipeline_overhead.py

clean-venv:
	rm -rf $(VENV)
