# Two commands do everything on a fresh machine: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NB ?=
# Optional extra package index for PyTorch, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU
# build on Linux (PyPI's Linux wheel is the much larger CUDA build). Used only when the environment is installed.
TORCH_INDEX ?=
# The same floating-point kernels on every x86-64 CPU with AVX2, Intel or AMD, so a chapter that trains live
# (chapter 11) computes the same bits on a laptop, on CI and on the machine that executed the book: PyTorch's own
# vectorised kernels at the AVX2 level (not AVX-512 where the CPU has it), and MKL's matrix products in its
# COMPATIBLE reproducible branch (SSE2 code without approximate instructions), the one branch MKL supports on
# non-Intel CPUs too: with MKL_CBWR=AVX2 an AMD CPU falls back to its automatic branch, and the chapter 11 outputs
# executed on an Intel Xeon and on an AMD EPYC differed (measured 2 December 2026). The price: a training step of
# chapter 11's model takes about 1.6 times as long (75 -> 125 ms on one thread). tests/test_training.py checks the
# pin. `make lab ATEN_CPU_CAPABILITY= MKL_CBWR=` uses the CPU's fastest kernels instead (PyTorch then warns once
# that it ignores the empty value), and your numbers will then differ from the book's in the last digits.
export ATEN_CPU_CAPABILITY ?= avx2
export MKL_CBWR ?= COMPATIBLE
# The stored outputs and the shipped checkpoints are the CPU's numbers: a GPU runs the same model with other
# kernels, so its last digits differ. The targets that check or rewrite them therefore run on the CPU even where
# there is a GPU (transformer_edu/devices.py reads the variable); `make lab` and the chapters elsewhere use the GPU.
test execute checkpoint gpt-checkpoint: export TRANSFORMER_EDU_DEVICE ?= cpu

.PHONY: setup book student course test lab execute checkpoint gpt-checkpoint clean

setup: $(STAMP)

# Re-install only when a requirements file or the package metadata changes.
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# HTML into _build/html from the outputs stored in chapters/*.ipynb (no execution); see scripts/build_book.py.
book: $(STAMP)
	$(PY) scripts/build_book.py

# The student edition (scripts/course_kit.py): the chapters without their worked solutions, as notebooks in
# _build/student/chapters/ (same file names) and as an HTML book in _build/student/html/.
student: $(STAMP)
	$(PY) scripts/course_kit.py student

# An nbgrader course folder in _build/nbgrader/ generated from the chapters (one assignment per chapter; see
# book/instructors.md): cd _build/nbgrader && ../../.venv/bin/nbgrader generate_assignment ch05
course: $(STAMP)
	$(PY) scripts/course_kit.py nbgrader --out _build/nbgrader

# Re-execute every chapter in place (or one: make execute NB=chapters/05_attention.ipynb).
execute: $(STAMP)
	$(PY) scripts/execute_notebooks.py $(NB)

# Re-train the shipped date model, transformer_edu/checkpoints/dates.pt (and dates.json), under the kernel pin
# above: the same bits on any x86-64 CPU with AVX2 (about three minutes; chapter 11 checks it gets these weights).
checkpoint: $(STAMP)
	$(PY) -m transformer_edu.train --task dates --steps 1500 --seed 0 --threads 1 \
		--out transformer_edu/checkpoints/dates.pt --no-progress

# Re-train the shipped character-level GPT, transformer_edu/checkpoints/shakespeare.pt (and shakespeare.json):
# 1,800 steps on two threads (196 s of updates on two quiet cores, measured 2 December 2026; the validation loss
# passes 2.0 nats per character after 82 s), then about 45 s to score all the validation text; the same bits on
# any x86-64 CPU with AVX2 under the pin above (chapter 15 loads it).
gpt-checkpoint: $(STAMP)
	$(PY) -m transformer_edu.train --task shakespeare --steps 1800 --seed 0 --threads 2 \
		--out transformer_edu/checkpoints/shakespeare.pt --no-progress

# JupyterLab rooted at the repository, so that bertviz views can load book/_static/offline/ from the server
# (tests/test_lab_browser.py starts it the same way). As root (a container), Jupyter needs --allow-root.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/chapters \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# Package tests, then every chapter under nbval (strict), then the student edition's notebooks under nbval (each
# runs top to bottom, its unsolved exercises saying "Not yet"), then both books in headless Chromium.
NBVAL := --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider -q
test: $(STAMP)
	$(PY) -m pytest tests -q -m "not browser"
	$(PY) -m pytest --nbval chapters/ $(NBVAL)
	$(MAKE) student
	$(PY) -m pytest --nbval _build/student/chapters/ $(NBVAL) --rootdir=.
	$(MAKE) book
	$(PY) -m pytest tests -q -rs -m browser

clean:
	rm -rf _build $(VENV) .pytest_cache
