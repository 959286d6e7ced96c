# Everything depends on setup, so a fresh clone needs no manual step.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BOARD ?= esp32_devkitc
PORT ?= /dev/ttyUSB0

.PHONY: setup lint test clean demo mpy deploy deploy-config

setup: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# Test-only npm peers (ocpp-rpc, pinned by package-lock.json) for the interoperability tests.
NPM_STAMP := node_modules/.installed

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

lint: setup
	$(BIN)/ruff check .

test: lint $(NPM_STAMP)
	$(BIN)/python -m pytest -q tests_host

# The README's "run it" command: a local CSMS and a simulated station, a trace and a summary table.
demo: setup
	$(BIN)/python tools/demo.py

# Firmware and board modules as .mpy (bytecode, the same for the ESP32 and the Unix port), with sizes.
mpy: setup
	$(BIN)/python tools/build_mpy.py --board $(BOARD) --sizes

# Copy the .mpy build and the board's scripts to a board running stock MicroPython (not frozen).
deploy: mpy
	cd build/mpy/firmware && ../../../$(BIN)/mpremote connect $(PORT) fs cp -r . :
	cd build/mpy/$(BOARD) && ../../../$(BIN)/mpremote connect $(PORT) fs cp -r . :
	$(BIN)/mpremote connect $(PORT) fs cp boards/$(BOARD)/main.py :main.py + fs cp boards/$(BOARD)/boot.py :boot.py

# The board's configuration (CSMS URL, station id, Wi-Fi, identity): edit your copy first.
deploy-config: setup
	$(BIN)/mpremote connect $(PORT) fs cp $(or $(CONFIG),boards/$(BOARD)/config.json) :config.json

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .mypy_cache node_modules
