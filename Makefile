# aiida-cgmob: `make demo` and `make test` each set everything up on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := gromacs
# The HPC path's tests (tests/test_cluster.py, tests/test_services.py): a loopback Slurm cluster behind sshd and a
# PostgreSQL + RabbitMQ profile.  Installed when root; without them those tests skip, naming this command.
SERVICE_PACKAGES := slurm-wlm munge openssh-server postgresql rabbitmq-server
DEMO_AIIDA_PATH := $(CURDIR)/.aiida-cgmob

.PHONY: help install system-deps service-deps venv demo test lint docs benchmarks clean

help:
	@echo "make demo   - install everything and run the end-to-end demo on an isolated AiiDA profile"
	@echo "make test   - install everything and run ruff and the test suite"
	@echo "make docs   - build the documentation into docs/_build/html"

system-deps:
	@if command -v gmx >/dev/null 2>&1; then \
		echo "gmx found: $$(command -v gmx)"; \
	elif [ "$$(id -u)" = "0" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	else \
		echo "GROMACS (gmx) is missing. Install it with:  sudo apt-get install $(APT_PACKAGES)"; exit 1; \
	fi

service-deps:
	@missing=""; for program in slurmctld slurmd munged sshd rabbitmq-server pg_ctlcluster; do \
		PATH="$$PATH:/usr/sbin:/sbin" command -v $$program >/dev/null 2>&1 || missing="$$missing $$program"; done; \
	if [ -z "$$missing" ] && [ -d /etc/postgresql ]; then \
		echo "Slurm, munge, sshd, PostgreSQL and RabbitMQ found"; \
	elif [ "$$(id -u)" = "0" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SERVICE_PACKAGES); \
	else \
		echo "Not root: the HPC tests will skip. To run them:  sudo apt-get install $(SERVICE_PACKAGES)"; \
	fi

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first: `pip install torch==2.13.0` takes the local CPU wheel instead of the CUDA build.
$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

install: system-deps venv

demo: install
	AIIDA_PATH=$(DEMO_AIIDA_PATH) $(BIN)/aiida-cgmob demo --path $(DEMO_AIIDA_PATH)

# Two pytest-xdist workers, a whole file at a time each: the service tests (run first, tests/conftest.py) mostly wait
# for Slurm, sshd or a daemon while the other worker keeps a core busy.  TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2

test: install service-deps
	$(BIN)/ruff check aiida_cgmob tests benchmarks
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile
	$(BIN)/sphinx-build -q -W -b html docs docs/_build/html

docs: install
	$(BIN)/sphinx-build -q -W -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .aiida-cgmob docs/_build
