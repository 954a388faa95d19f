# Two entry points (README Quick start): `make search` and `make test`.
# Both create the virtual environment on first use. torch is pinned to the CPU build first so that
# the package's own range (torch>=2.2) installs nothing more; override TORCH_SPEC on a GPU machine.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
SNNAS := $(VENV)/bin/snnas
# glibc: keep freed large tensors in the heap instead of a fresh mmap per allocation (2-3x faster here).
export MALLOC_MMAP_MAX_ ?= 0
export MALLOC_TRIM_THRESHOLD_ ?= 68719476736
export RAY_AUTH_MODE ?= disabled

.PHONY: setup search test bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# Optional peers for the equivalence tests (tests skip them when absent). --no-deps: spikingjelly's
# own requirements would replace torch with a CUDA build.
$(VENV)/.peers: $(VENV)/.installed
	-$(PY) -m pip install --quiet --no-deps spikingjelly loguru
	touch $@

search: setup
	$(SNNAS) search --space search_spaces/digits.yaml --strategy evolution --workers 2

test: setup $(VENV)/.peers
	$(PY) -m pytest -q

bench: setup
	$(PY) -m pip install --quiet -e ".[compare]"
	$(PY) -m pip install --quiet --no-deps spikingjelly loguru
	$(PY) scripts/bench_neuron.py

lint: setup
	$(VENV)/bin/ruff check snnas tests scripts

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
