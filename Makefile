# The two commands of the README. Both work on a fresh machine: they create .venv and install.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU wheel pinned: an unpinned torch resolves to a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: up test install services lint clean

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

# The whole suite, the MiniLM tier (`-m slow`, ~2 min) included: it fits in 10 min on a
# 2-core machine (docs/performance.md, "The test suite"). pytest prints the 20 slowest tests.
# No test asserts a duration; waits poll for their event up to DECONFOUND_TEST_WAIT_S (600 s),
# so a busy machine makes the suite slower, not red. PYTEST_ARGS='-m "not slow"' skips the tier.
PYTEST_ARGS ?=
test: install services
	$(BIN)/ruff check .
	$(BIN)/pytest -q $(PYTEST_ARGS)

# What the tests talk to for real: PostgreSQL (multi-worker queue tests) and Debian's Chromium
# (browser tests). Started / installed only when missing.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start \
		|| echo "warning: PostgreSQL is not running; its tests will fail"
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
		|| echo "warning: could not install chromium; browser tests will fail"

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var runs .pytest_cache
