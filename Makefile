# The two commands of the README: `make run` and `make test`.
# Each sets up whatever is missing first (virtual environment, packages,
# the headless browser for the UI tests, the PostgreSQL server the tests start a
# throw-away cluster of) and is a no-op when it is already there.
#
# Python packages come from requirements.txt only, every one pinned and hashed
# (tools/lockfile.py says how the lock is made). `make lock` re-resolves it after
# pyproject.toml changed, `make upgrade` moves every pin to the newest release the
# ranges allow, and `make test-latest` runs the suite on those newest releases in a
# throw-away environment without touching the lock.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.txt
EXTRAS := test,local,postgres,lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile $(LOCK) 2>/dev/null | cksum | cut -d' ' -f1)
PLACEHOLDERS := $(wildcard tools/placeholders/*)
LATEST ?= .venv-latest
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test lint bench browser postgres serve clean lock upgrade test-latest

setup: $(STAMP)

# The lock is checked against pyproject.toml before anything is installed; packages
# come without dependency resolution (the lock is the resolution), the project and the
# placeholders are built with the lock's setuptools, and whatever the lock does not
# list is removed, so the environment equals the lock package for package.
$(STAMP): pyproject.toml Makefile $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tools/lockfile.py check
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . $(PLACEHOLDERS)
	$(BIN)/python tools/lockfile.py sync
	rm -f $(VENV)/.installed-*
	touch $@

# pip-compile keeps every pin that still fits pyproject.toml (`upgrade` drops them all).
# It sees the placeholders so that it does not resolve PyPI's CUDA builds in their place.
lock upgrade:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet "$$($(BIN)/python tools/lockfile.py pin pip-tools)"
	printf -- './%s\n' $(PLACEHOLDERS) > $(VENV)/placeholders.in
	$(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --extra $(subst $(comma), --extra ,$(EXTRAS)) \
	  $(if $(filter upgrade,$@),--upgrade) \
	  --output-file $(LOCK) pyproject.toml $(VENV)/placeholders.in
	$(BIN)/python tools/lockfile.py finish $(LOCK)

comma := ,

# The newest releases pyproject.toml allows, in a throw-away environment: a breaking
# release is found here on purpose. The lock is not touched; it prints what moved.
# Not a WORKBENCH_ variable: the workbench warns about those it does not know.
test-latest: export LOCK_TEST_LATEST = 1
test-latest: browser postgres
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e ".[$(EXTRAS)]" $(PLACEHOLDERS)
	$(LATEST)/bin/python -m pip install --quiet --no-deps $$($(LATEST)/bin/python -c \
	  "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml','rb'))['tool']['lock']['no-deps']))")
	@echo "what moved from $(LOCK):"; $(LATEST)/bin/python tools/lockfile.py diff || true
	$(LATEST)/bin/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
	  test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || \
	  ($(SUDO) apt-get update -qq && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-color-emoji)

# Debian's server binaries (initdb, pg_ctl) live in /usr/lib/postgresql/<version>/bin.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -qq && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql)

run: setup
	$(BIN)/streamlit run webapp.py

serve: setup
	$(BIN)/python -m workbench serve

test: setup browser postgres
	$(BIN)/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(LATEST) .workbench test-output
