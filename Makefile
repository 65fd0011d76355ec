# The two set-up commands of the README: `make console` and `make test`.
# Everything runs in the project's own virtual environment (.venv), never in the system
# interpreter: a distribution's Python refuses system-wide installs (PEP 668), and another
# tool's pinned packages must not be upgraded under it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?= -q --disable-pip-version-check

.PHONY: install binaries console test cluster-down

install: $(VENV)/.installed

$(PY):
	@$(PYTHON) -m venv $(VENV) || { echo "make: cannot create $(VENV) with $(PYTHON) -m venv (on Debian/Ubuntu: apt install python3-venv)" >&2; exit 1; }

# Installed again when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test]'
	@touch $@

# Builds only what is missing (minutes the first time, about a second after).
binaries: install
	$(PY) -m krkn_tui cluster build

# The console on the local cluster (brought up with the demo workload), or on CONTEXT if given:
# a cluster of one's own needs nothing of the local one built.
ifdef CONTEXT
console: install
	$(PY) -m krkn_tui --context $(CONTEXT)
else
console: binaries
	$(PY) -m krkn_tui --local
endif

# The whole suite; the tests bring the local cluster up and stop it again. Any pytest exit
# status but 0 fails, "no tests collected" (5) included.
# `--test-tools`: also Debian's chromium for the browser tests, as root (build.sh says so).
# `--durations`: the slowest tests at the end, for keeping the suite within its time.
test: install
	$(PY) -m krkn_tui cluster build --test-tools
	$(PY) -m pytest -p no:cacheprovider --durations=15

cluster-down:
	$(PY) -m krkn_tui cluster down
