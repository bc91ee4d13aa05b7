# The two front doors: `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test
PYTEST_ARGS ?=

PORTAL := addons/itsm_portal/portal

.PHONY: run reset test lint messages clean

run: $(INSTALLED)
	@$(BIN)/itsm run

reset: $(INSTALLED)
	@$(BIN)/itsm run --reset

test: $(TEST_INSTALLED)
	@$(BIN)/ruff check .
	@$(BIN)/pytest $(PYTEST_ARGS)

lint: $(TEST_INSTALLED)
	@$(BIN)/ruff check .

# Extract the portal's texts and merge them into its catalogs.
messages: $(INSTALLED)
	@$(BIN)/pybabel --quiet extract -F $(PORTAL)/babel.cfg --no-location \
		--sort-output -o $(PORTAL)/locale/portal.pot $(PORTAL)
	@$(BIN)/pybabel --quiet update -i $(PORTAL)/locale/portal.pot \
		-d $(PORTAL)/locale -D portal

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
		echo "make: $(PYTHON) is not installed: install Python 3.11 or run make PYTHON=/path/to/python3.11" >&2; \
		exit 1; }
	@echo "make: creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): $(BIN)/python requirements.txt pyproject.toml
	@echo "make: installing the pinned dependencies into $(VENV)"
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(TEST_INSTALLED): $(INSTALLED) requirements-test.txt
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@touch $@

clean:
	rm -rf $(VENV) var build *.egg-info
