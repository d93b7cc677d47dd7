# EstudiApp core: every command creates .venv and installs what it needs on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PYTHONDONTWRITEBYTECODE is set on our machines; without compiled .pyc files imports are 3-4x slower
export UV_COMPILE_BYTECODE := 1
export UV_LINK_MODE := copy
# the package sets OMP_WAIT_POLICY (estudiapp_core.config.passive_openmp, where the why is) before it imports
# scikit-learn or XGBoost; notebooks and tests that import them first run under make, which sets the same default
export OMP_WAIT_POLICY := PASSIVE
INSTALLED := $(VENV)/.installed
# notebook cells flagged `shared` read the real ICFES samples in ../shared/data; they run where it is present
TEST_FLAGS := slow db s3 $(if $(wildcard ../shared/data/saberpro_2018_2021_polijic_raw.csv),shared,)

.PHONY: install demo test docs bench lambda-bundle fuzz check-notebooks clean
.PHONY: lab hooks lint-workflows

$(INSTALLED): settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[dev]'
	@touch $@

install: $(INSTALLED) ## create .venv and install the package with its dev tools

demo: install ## the main job on a synthetic national cohort, with embedded defaults
	$(BIN)/estudiapp run --rows 200000 --seed 2020 --database
	$(BIN)/estudiapp db query departments  # the latest exam period
	@echo 'Dashboard: run `$(BIN)/estudiapp dashboard` and open http://127.0.0.1:5006/ (map, cards, trend, Try it)'

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

fuzz: install ## schemathesis against `estudiapp serve`: at least 5,000 requests, no 5xx, answers match the OpenAPI
	$(BIN)/python tools/fuzz_api.py

# JupyterLab on .venv; kernel, server config and hooks live in the project (.venv, .git), none in ~/.jupyter
LAB_PORT ?= 8888
LAB_TOKEN ?=
LAB_ARGS ?=
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/estudiapp-core/kernel.json
LAB_CONFIG := $(VENV)/etc/jupyter/jupyter_server_config.json

$(KERNEL_SPEC): $(INSTALLED)
	$(BIN)/python -m ipykernel install --sys-prefix --name estudiapp-core --display-name "EstudiApp core"

# nbdev_install_hooks would write ~/.jupyter and fails in a git worktree; this is its pre-save hook, in .venv
$(LAB_CONFIG): $(INSTALLED)
	@mkdir -p $(@D)
	echo '{"ContentsManager": {"pre_save_hook": "nbdev.clean.clean_jupyter"},' \
	  '"MappingKernelManager": {"default_kernel_name": "estudiapp-core"}}' > $@

hooks: $(LAB_CONFIG) ## nbdev's hooks: JupyterLab cleans notebooks on save, git merges them with nbdev_merge
	git config merge.nbdev-merge.name "resolve notebook conflicts with nbdev_merge"
	git config merge.nbdev-merge.driver "$(BIN)/nbdev_merge %O %A %B %P"
	@hook=$$(git rev-parse --git-path hooks)/post-merge; \
	  if [ ! -e $$hook ] || grep -q nbdev_trust $$hook; then \
	    mkdir -p $$(dirname $$hook) && printf '#!/bin/sh\n$(BIN)/nbdev_trust\n' > $$hook && chmod +x $$hook; \
	  else echo "$$hook exists: add '$(BIN)/nbdev_trust' to it to trust merged notebooks"; fi

lab: $(KERNEL_SPEC) hooks ## JupyterLab on .venv with the "EstudiApp core" kernel (LAB_PORT, LAB_TOKEN, LAB_ARGS=--no-browser)
	$(BIN)/jupyter lab --port=$(LAB_PORT) --ServerApp.port_retries=0 \
	  $(if $(LAB_TOKEN),--IdentityProvider.token=$(LAB_TOKEN)) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

lint-workflows: install ## actionlint (with shellcheck on run: steps) on .github/workflows
	$(BIN)/actionlint -shellcheck $(BIN)/shellcheck

clean:
	rm -rf _proc docs/* .estudiapp artifacts build .bench
