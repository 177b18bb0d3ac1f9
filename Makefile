# Two commands to know: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Real datasets next to the repository (as on the development machines), unless DIVEKIT_DATA is set.
SHARED := $(abspath ../shared/datasets)
export DIVEKIT_DATA ?= $(if $(wildcard $(SHARED)/fashion-mnist),$(SHARED),)
export MPLBACKEND ?= Agg

.PHONY: demo test test-slow test-browser lint bench bench-all clean book book-notebooks

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The main job: the default recipe on full Fashion-MNIST when it is found locally (no download), else the bundled sample.
demo: $(BIN)/.installed
	@if $(BIN)/python -c "import sys; from divekit.data.registry import find_local; sys.exit(find_local('fashion-mnist') is None)"; then \
		$(BIN)/divekit train --name demo; \
	else \
		echo "full Fashion-MNIST not found locally: training on the bundled sample (get the full set with 'divekit datasets --download fashion-mnist')"; \
		$(BIN)/divekit train --data fashion-mnist-mini --epochs 5 --name demo-mini; \
	fi

lint: $(BIN)/.installed
	$(BIN)/ruff check divekit tests bench scripts

test: $(BIN)/.installed lint
	$(BIN)/python -m pytest -q

test-slow: $(BIN)/.installed
	$(BIN)/python -m pytest -q -m slow

# The report in headless Chromium (Debian package 'chromium', installed here when missing); screenshot in artifacts/.
test-browser: $(BIN)/.installed
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium (Debian package) for the browser test"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update && apt-get install -y chromium' \
			|| echo "could not install chromium: the browser test will be skipped"; \
	fi
	$(BIN)/python -m pytest -q -m browser

bench: $(BIN)/.installed
	$(BIN)/python bench/main_job.py

# Trainer overhead, start-up and data path (docs/benchmarks.md); DIVEKIT_LIGHTNING_PYTHON=PATH adds Lightning.
bench-all: bench
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/datapath.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache

# The book's chapter code against divekit.d2l (see docs/book.md). pandas (Kaggle chapter) and ipython
# (softmax-regression-scratch) are the chapters' own imports; torchvision is replaced by tests/book/shims.
book: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet pandas ipython
	nice -n 19 $(BIN)/python tests/book/run_chapters.py $(CHAPTERS)

# The book's notebooks of both editions executed in a Jupyter kernel against divekit.d2l (see docs/book.md).
# pandas (Kaggle), scipy (hyperparameter optimisation) and ipython are the notebooks' own imports.
book-notebooks: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet pandas scipy ipython
	rc=0; for edition in zh-2.0.0 en-1.0.3; do \
		nice -n 19 $(BIN)/python tests/book/run_notebooks.py --notebooks ../shared/book-notebooks/$$edition $(NOTEBOOKS) \
			|| rc=1; \
	done; exit $$rc
