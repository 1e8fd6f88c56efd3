# Thin targets; the work is in course_lib. `make lab` opens the course, `make test` runs the tests
# (`make test-fast`: the unit tests only, under a minute).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first so the rest resolves against it; override TORCH for another build.
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: setup lab test test-fast demo doctor bench site

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

# Jupyter refuses to start as root (containers, cloud machines) unless told it may.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# OpenMP threads that spin for a core another process wants slow a kernel many times over: kernels.GOMP_SPINCOUNT.
lab: setup
	GOMP_SPINCOUNT=$${GOMP_SPINCOUNT:-1000} $(VENV)/bin/jupyter lab notebooks/ --LabApp.app_settings_dir=$(CURDIR)/lab/settings $(AS_ROOT)  # lab/settings: no news pop-up, kernel starts unasked

test: setup
	$(PY) -m pytest -q

test-fast: setup  # no notebooks, no large third-party models, no GPU: under a minute on a 2-core CPU
	$(PY) -m pytest -q -m "not slow and not notebook and not gpu"

demo: setup  # the shipped pipeline on a two-object prompt; prints where it wrote the grid
	$(PY) -m course_lib draw "a red circle to the left of a blue square" -n 16 -o out.png

doctor: setup
	$(PY) -m course_lib doctor

bench: setup  # quality and speed of every shipped checkpoint and notebook (about 1 h on a 2-core CPU)
	$(PY) -m benchmarks.run --stage all --device cpu --notebooks

site: setup  # the rendered edition: every notebook run in workshop mode, as HTML with its pictures, in site/
	$(PY) -m course_lib site site/ --mode workshop
