# Witness — the two commands of the README: `make run` and `make test`.
# Both start from `make install`, which is idempotent: it installs only what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WITNESS_HOME ?= $(CURDIR)/var
HOST ?= 127.0.0.1
PORT ?= 8000
export WITNESS_HOME

PO := witness/locale/zh_Hans/LC_MESSAGES/django.po
MO := $(PO:.po=.mo)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)

.PHONY: help install system venv messages run test lint serve demo clean

help:
	@echo "make run   - install what is missing, set up the database and demo agency, start web + worker"
	@echo "make test  - the whole test suite (SQLite, then PostgreSQL)"

install: system venv messages

system:
	@bash scripts/install-system.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

messages: $(MO)

$(MO): $(PO)
	msgfmt --check -o $@ $<

run: install
	$(BIN)/witness migrate --no-input
	$(BIN)/witness demo
	$(BIN)/witness serve --host $(HOST) --port $(PORT)

test: install
	@bash scripts/run-tests.sh

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
