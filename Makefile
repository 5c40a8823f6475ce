# Two commands for a fresh clone: `make demo` (main job) and `make test` (tests, lint, docs).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# Real datasets for tests/tutorials: ../shared/data next to the clone when present.
export PROBDYN_DATA_DIR ?= $(abspath $(CURDIR)/../shared/data)

.PHONY: demo test lint docs bench install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first: the CPU wheel on local disk (never a multi-GB CUDA build on CPU machines)
	$(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
	$(PY) -m pip install -q -e ".[test,docs]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/probdyn demo --out demo-output

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

docs: $(VENV)/.installed
	$(VENV)/bin/mkdocs build --strict --site-dir site

test: lint $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider
	$(MAKE) docs

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_kalman.py
	$(PY) benchmarks/bench_ode.py

clean:
	rm -rf $(VENV) site demo-output
