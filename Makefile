# Two commands do everything on a fresh machine: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup book test lab execute clean

setup: $(STAMP)

# Re-install only when a requirements file or the package metadata changes.
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

test: $(STAMP)
	$(PY) -m pytest tests -q

clean:
	rm -rf _build $(VENV) .pytest_cache
