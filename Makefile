# The lab's commands. Everything runs inside .venv, created on first use.
#   make lab    install .[lab,peers,fast] and open JupyterLab on notebook 00
#   make test   install every extra, run the unit tests and every notebook under nbval
#   make run    re-execute every notebook in place (stored outputs stay fresh)
#   make bench  install the heavy peers too (Ray, vectorbt), run every lab's benchmark; JSON in build/bench/
#   make lint   ruff

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
BUILD := $(CURDIR)/build
# LAB_SCALE: ci is small and fast (what CI and the stored notebooks use), default a learner's size,
# full for serious runs. Tests and `make run` use ci and benchmarks default, unless LAB_SCALE is set.
ifeq ($(origin LAB_SCALE),undefined)
TEST_SCALE := ci
BENCH_SCALE := default
else
TEST_SCALE := $(LAB_SCALE)
BENCH_SCALE := $(LAB_SCALE)
endif
# pytest-xdist workers; notebooks are kept whole on one worker (--dist loadfile)
JOBS ?= 2

# Jupyter, IPython and matplotlib write their state under build/, never into the home folder.
export IPYTHONDIR := $(BUILD)/jupyter/ipython
export JUPYTER_CONFIG_DIR := $(BUILD)/jupyter/config
export JUPYTER_DATA_DIR := $(BUILD)/jupyter/data
export JUPYTER_RUNTIME_DIR := $(BUILD)/jupyter/runtime
export MPLCONFIGDIR := $(BUILD)/jupyter/mpl
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: lab test run bench lint clean venv docker-base docker-wheels docker-exchange

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One stamp per set of extras, remade when pyproject.toml changes.
$(VENV)/.installed-lab: pyproject.toml setup.py labsupport/fastbook/_cyengine.pyx | $(PY)
	$(PY) -m pip install --quiet -e '.[lab,peers,fast]'
	$(PY) -c "from labsupport.fastbook import _nbcore; _nbcore.warm_up()"  # Numba compiles once, to its disk cache
	$(PY) -c "from labsupport.risk import kernel; kernel.warm_up()"  # the risk engine's Numba kernel, likewise
	touch $@

$(VENV)/.installed-all: pyproject.toml setup.py labsupport/fastbook/_cyengine.pyx | $(PY)
	$(PY) -m pip install --quiet -e '.[lab,test,peers,fast,dist]'
	touch $@ $(VENV)/.installed-lab

$(VENV)/.installed-heavy: $(VENV)/.installed-all
	$(PY) -m pip install --quiet -e '.[heavy]'
	touch $@

venv: $(VENV)/.installed-all

lab: $(VENV)/.installed-lab
	@mkdir -p $(BUILD)/jupyter
	$(PY) -m labsupport lab

test: $(VENV)/.installed-all
	@mkdir -p $(BUILD)/jupyter
	$(PY) -c "from labsupport.fastbook import _nbcore; _nbcore.warm_up()"  # Numba compiles once, to its disk cache
	$(PY) -c "from labsupport.risk import kernel; kernel.warm_up()"  # the risk engine's Numba kernel, likewise
	LAB_SCALE=$(TEST_SCALE) $(PY) -m pytest -n $(JOBS) --dist loadfile --timeout 900 \
		--nbval --nbval-current-env --nbval-sanitize-with .ci/nbval_sanitize.cfg \
		--nbval-cell-timeout 240 \
		tests notebooks

run: $(VENV)/.installed-all
	@mkdir -p $(BUILD)/jupyter
	$(PY) -c "from labsupport.fastbook import _nbcore; _nbcore.warm_up()"  # Numba compiles once, to its disk cache
	$(PY) -c "from labsupport.risk import kernel; kernel.warm_up()"  # the risk engine's Numba kernel, likewise
	LAB_SCALE=$(TEST_SCALE) $(PY) -m labsupport run all --inplace

bench: $(VENV)/.installed-heavy
	@mkdir -p $(BUILD)/bench
	LAB_SCALE=$(BENCH_SCALE) $(PY) -m labsupport bench all

lint: $(VENV)/.installed-all
	$(PY) -m ruff check labsupport tests notebooks

# Lab 10 in containers: the base image pulled, or built from a Debian root filesystem when no
# registry answers; then the exchange's image (see docker/exchange/).
docker-base:
	docker pull python:3.11-slim || docker/exchange/build-base-image.sh

docker-wheels:
	docker/exchange/fetch-wheels.sh

docker-exchange: docker-base docker-wheels
	docker build --network host -f docker/exchange/Dockerfile -t labx-exchange .

clean:
	rm -rf build .pytest_cache .hypothesis
