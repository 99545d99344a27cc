# dlrun — every set-up step lives here so a fresh machine needs only `make train` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup train test test-fast bench bench-gpu bench-windows clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install dlrun with its test tools

train: $(STAMP)  ## train the bundled, offline digits MLP (writes runs/<id>/)
	$(BIN)/dlrun train configs/digits_mlp.yaml

test: $(STAMP)   ## run the test suite
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## the suite without the tests marked slow (a quick loop while editing)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)  ## time dlrun against the hand-written Keras scripts
	$(BIN)/python bench/run.py

bench-gpu: $(STAMP)  ## dlrun --backend jax against plain Keras-on-JAX scripts, with phase timings (run it on a GPU machine)
	$(BIN)/python bench/gpu.py

bench-windows: $(STAMP)  ## peak memory of 1 epoch on windows over a 1,000,000-step series (data.window)
	$(BIN)/python bench/window_memory.py --stages

clean:
	rm -rf $(VENV) build *.egg-info
