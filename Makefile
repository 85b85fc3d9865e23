# The two commands of the README. Both work on a fresh machine: they create .venv and install.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU wheel pinned: an unpinned torch resolves to a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: up test install install-test lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test]" "$(TORCH)"
	touch $@

install: $(VENV)/.installed

up: install
	$(BIN)/deconfound up

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var runs .pytest_cache
