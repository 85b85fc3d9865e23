# The two commands of the README. Both work on a fresh machine: they create .venv and install.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU wheel pinned: an unpinned torch resolves to a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
comma   := ,

.PHONY: up test install install-up services lint lock clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first (the pin above), then the extras' dependencies at the versions and hashes of the lock
# (the lock leaves torch out: the Makefile and the Dockerfile pick its build), then the project
# without dependencies. Without the lock file, pip resolves the extras afresh.
define install_locked
	$(BIN)/pip install -q "$(TORCH)"
	if [ -f $(1) ]; then $(BIN)/pip install -q --require-hashes -r $(1) && $(BIN)/pip install -q --no-deps -e .; \
	else $(BIN)/pip install -q -e ".[$(2)]" "$(TORCH)"; fi
endef

# `make up`: what it runs, the service and the dashboard (requirements-up-lock.txt, as the image).
$(VENV)/.installed-up: $(BIN)/python pyproject.toml $(wildcard requirements-up-lock.txt)
	$(call install_locked,requirements-up-lock.txt,service$(comma)dashboard$(comma)postgres)
	touch $@

# `make test` (and CI): that and what the tests use (requirements-lock.txt).
$(VENV)/.installed: $(BIN)/python pyproject.toml $(wildcard requirements-lock.txt)
	$(call install_locked,requirements-lock.txt,test)
	touch $@ $(VENV)/.installed-up

install-up: $(VENV)/.installed-up
install: $(VENV)/.installed

up: install-up
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

# Re-pin after a change of pyproject.toml's dependencies (tests/test_dependencies.py says when):
# Linux x86_64, CPython 3.11, the CPU torch of $(TORCH_WHEELS) (left out of the files). The run
# lock is the test lock less the test tools, at the same versions.
TORCH_WHEELS ?= /opt/wheels
LOCK_FLAGS = --generate-hashes --python-version 3.11 --find-links $(TORCH_WHEELS) -c $(VENV)/torch-cpu.txt \
	--no-emit-package torch --custom-compile-command "make lock" -q
lock: $(BIN)/python
	$(BIN)/pip install -q uv
	echo "$(TORCH)+cpu" > $(VENV)/torch-cpu.txt
	$(BIN)/uv pip compile pyproject.toml --extra test $(LOCK_FLAGS) -o requirements-lock.txt
	$(BIN)/uv pip compile pyproject.toml --extra service --extra dashboard --extra postgres $(LOCK_FLAGS) \
		-c requirements-lock.txt -o requirements-up-lock.txt

clean:
	rm -rf $(VENV) var runs .pytest_cache
