# Two commands for a newcomer: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8501
TORCH_INDEX ?=
RUNTIME_STAMP := $(VENV)/.finsent-runtime
DEV_STAMP := $(VENV)/.finsent-dev

.PHONY: run test install install-dev browser-deps lint format types unit bench bench-legacy clean help

help:
	@echo "make run   - set up .venv and open the dashboard on http://$(HOST):$(PORT) (offline default)"
	@echo "make test  - set up everything and run the whole suite (lint, types, unit, app, browser)"

$(PY):
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "python3-venv is missing: installing it with apt-get"; \
	    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); \
	  else echo "error: '$(PYTHON) -m venv' failed; install python3-venv (sudo apt-get install python3-venv)"; exit 1; fi; }
	@$(PIP) install -q --upgrade pip

$(RUNTIME_STAMP): $(PY) requirements.txt pyproject.toml
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt $(wildcard examples/*/pyproject.toml)
	$(PIP) install -q -r requirements-dev.txt
	@# The transformers backend's extra, tested in CI: the CPU build of torch first (an unpinned torch pulls
	@# a CUDA build of several GB; elsewhere set TORCH_INDEX=https://download.pytorch.org/whl/cpu), then the rest.
	$(PIP) install -q "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install -q "transformers>=4.46" "safetensors>=0.4.3" "tokenizers>=0.20" "huggingface-hub>=0.26" \
	  "onnxruntime>=1.20" "onnx>=1.17"
	@# The example third-party plugin proves entry-point loading in the tests.
	$(PIP) install -q --no-deps -e examples/finsent-hello-backend
	@touch $@

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

# Debian's Chromium and CJK fonts for the browser tests (never `playwright install`: it downloads a browser).
browser-deps:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "noto sans cjk"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and fonts-noto-cjk with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "note: chromium/fonts-noto-cjk missing and not root: browser tests will skip"; fi

run: install
	FINSENT_DEFAULT_BACKEND=$${FINSENT_DEFAULT_BACKEND:-local} $(PY) -m streamlit run streamlit_app.py \
	  --server.address $(HOST) --server.port $(PORT)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

types: $(DEV_STAMP)
	$(VENV)/bin/mypy

unit: $(DEV_STAMP)
	$(PY) -m pytest

test: $(DEV_STAMP) browser-deps lint types unit

bench: $(DEV_STAMP)
	$(PY) bench/prep.py
	$(PY) bench/local.py
	$(PY) bench/openai_bulk.py

# The legacy `openai tools fine_tunes.prepare_data` (openai 0.28.1, with the pandas of its time) in its own
# venv, timed against `finsent prepare` on the same 200,000-row file (issue 2's target: at least 7x).
LEGACY_VENV ?= .bench/legacy-openai
$(LEGACY_VENV)/bin/openai:
	$(PYTHON) -m venv $(LEGACY_VENV)
	$(LEGACY_VENV)/bin/pip install -q "openai==0.28.1" "pandas==1.5.3" "numpy==1.26.4" "openpyxl==3.1.5"

bench-legacy: $(DEV_STAMP) $(LEGACY_VENV)/bin/openai
	$(PY) bench/prep.py --legacy-venv $(LEGACY_VENV)

clean:
	rm -rf $(VENV) .bench .pytest_cache .mypy_cache .ruff_cache test-artifacts *.egg-info
