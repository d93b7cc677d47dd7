# EstudiApp core: every command creates .venv and installs what it needs on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PYTHONDONTWRITEBYTECODE is set on our machines; without compiled .pyc files imports are 3-4x slower
export UV_COMPILE_BYTECODE := 1
export UV_LINK_MODE := copy
# idle OpenMP threads yield the core: XGBoost is 8-10x faster under load on 2 cores
export OMP_WAIT_POLICY := PASSIVE
INSTALLED := $(VENV)/.installed
# notebook cells flagged `shared` read the real ICFES samples in ../shared/data; they run where it is present
TEST_FLAGS := slow db s3 $(if $(wildcard ../shared/data/saberpro_2018_2021_polijic_raw.csv),shared,)

.PHONY: install demo test docs bench lambda-bundle fuzz check-notebooks clean
.PHONY: lint-workflows

$(INSTALLED): settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[dev]'
	@touch $@

install: $(INSTALLED) ## create .venv and install the package with its dev tools

demo: install ## the main job on a synthetic national cohort, with embedded defaults
	$(BIN)/estudiapp run --rows 200000 --seed 2020 --database
	$(BIN)/estudiapp db query departments --period 20195

check-notebooks: install ## the package is what the notebooks export, and notebooks are committed clean
	$(BIN)/python tools/check_notebooks.py

docs: install ## render every notebook into the static site in docs/ (offline)
	$(BIN)/python tools/build_docs.py

test: install ## every test: export/clean checks, notebooks, docs build, pytest (summary last)
	$(MAKE) --no-print-directory check-notebooks
	$(MAKE) --no-print-directory lint-workflows
	$(BIN)/nbdev_test --n_workers 2 --flags "$(TEST_FLAGS)"
	$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest tests -q -p no:cacheprovider

bench: install ## benchmarks: prints figures, asserts nothing
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lambda-bundle: install ## Lambda zip build/lambda-bundle.zip from lambda/requirements.txt (built with a local Python 3.12, the runtime's)
	$(BIN)/python tools/build_lambda_bundle.py

fuzz: install ## schemathesis against `estudiapp serve`: at least 500 requests, no 5xx, answers match the OpenAPI
	$(BIN)/python tools/fuzz_api.py

lint-workflows: install ## actionlint (with shellcheck on run: steps) on .github/workflows
	$(BIN)/actionlint -shellcheck $(BIN)/shellcheck

clean:
	rm -rf _proc docs/* .estudiapp artifacts build .bench
