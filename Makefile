# The README's two commands: `make demo` and `make test`. Each sets up everything it needs on a
# fresh Debian machine with Python 3.11: a virtualenv from PyPI, servers from Debian packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests need: Ceph RGW (real S3 with Object Lock) and PostgreSQL; LibreOffice
# (headless, no GUI), DejaVu fonts and poppler-utils for the Woo PDF renditions and redaction (issue 19).
DEBIAN_PACKAGES := ceph-mon ceph-osd ceph-common radosgw postgresql curl chromium \
	libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui fonts-dejavu-core poppler-utils
# axe-core (npm) for the web UI's accessibility checks in the browser tests (tests/web/test_browser.py).
AXE := .cache/npm/node_modules/axe-core/axe.min.js
# Debian packages only the benchmarks need (bench/index_bench.py compares the index with notmuch).
BENCH_PACKAGES := notmuch python3-notmuch2
DEMO_HOME ?= $(CURDIR)/capstone-data

.PHONY: demo test venv system-packages bench-packages lint typecheck unit bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(AXE):
	mkdir -p .cache/npm && npm install --silent --no-save --no-audit --no-fund --prefix .cache/npm axe-core@4

bench-packages:
	@$(MAKE) --no-print-directory system-packages DEBIAN_PACKAGES="$(BENCH_PACKAGES)"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv system-packages $(AXE)
	$(BIN)/pytest

test: lint typecheck unit

demo: venv
	CAPSTONE_HOME=$${CAPSTONE_HOME:-$(DEMO_HOME)} $(BIN)/capstone demo

bench: venv system-packages bench-packages
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) capstone-data .pytest_cache .mypy_cache .ruff_cache
