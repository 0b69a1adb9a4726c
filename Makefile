# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit faults bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/datamove demo --dir demo-output

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The mapping document's HTML is tested in a real headless browser: Debian's chromium, driven by
# Playwright (never a browser download). Installed from the distribution's registry when missing
# (as root; otherwise it says what to run, and the test skips, or fails under CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "chromium is missing, so the browser test skips: run" \
	      "'sudo apt-get install --no-install-recommends chromium'" >&2; \
	  fi; }

unit: $(STAMP) browser
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

# The whole fault suite (tests/faults): every hostile name and string on every engine pair, the
# full broken-spec corpus, the full canary sequence. `make test` runs a bounded sample of it.
faults: $(STAMP)
	DATAMOVE_FAULTS=full $(BIN)/pytest -q -m faults $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/copy.py

clean:
	rm -rf $(VENV) demo-output .mypy_cache .ruff_cache .pytest_cache
