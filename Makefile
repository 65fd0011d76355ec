# The two set-up commands of the README: `make console` and `make test`.
PY ?= python3
PIP_FLAGS ?= -q --root-user-action=ignore --disable-pip-version-check

.PHONY: install binaries console test cluster-down

install:
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test]'

# Builds only what is missing (minutes the first time, about a second after).
binaries: install
	$(PY) -m krkn_tui cluster build

# The console on the local cluster (brought up with the demo workload), or on CONTEXT if given.
console: binaries
ifdef CONTEXT
	$(PY) -m krkn_tui --context $(CONTEXT)
else
	$(PY) -m krkn_tui --local
endif

# The whole suite; the tests bring the local cluster up and stop it again.
test: binaries
	$(PY) -m pytest -p no:cacheprovider

cluster-down:
	$(PY) -m krkn_tui cluster down
