# Everything depends on setup, so a fresh clone needs no manual step.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ROOT_PTH := $(VENV)/.root-pth

BOARD ?= esp32_devkitc
PORT ?= /dev/ttyUSB0

.PHONY: setup lint test clean demo mpy image version-record deploy deploy-config sign-image manufacturer-ca
.PHONY: bench bench-heap bench-latency bench-cpu bench-size bench-logs bench-http bench-hot bench-update fuzz faults

setup: $(STAMP) $(ROOT_PTH)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# The one way scripts and tests find the project: a .pth file in the venv's site-packages puts the project
# root on the import path (relative to site-packages, so a moved clone keeps working), and
# `import tools.bench.kit` or `from boards.host.sim import simctl` works from any script run with $(BIN)/python.
$(ROOT_PTH): $(STAMP)
	$(BIN)/python -c 'import os, sysconfig; d = sysconfig.get_paths()["purelib"]; \
	  open(os.path.join(d, "ocpp_station_root.pth"), "w").write(os.path.relpath("$(CURDIR)", d) + "\n")'
	touch $(ROOT_PTH)

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
	$(BIN)/python tools/demo/demo.py

# Benchmarks and robustness runs (issue 6): each prints a table and writes results/<name>.md and .json;
# `make bench` runs the four benchmarks and joins their tables into results/benchmarks.md.
bench-heap: setup
	$(BIN)/python tools/bench/heap.py $(ARGS)

bench-latency: setup
	$(BIN)/python tools/bench/latency.py

bench-cpu: setup
	$(BIN)/python tools/bench/cpu.py

bench-logs: setup
	$(BIN)/python tools/bench/logs.py $(ARGS)

bench-size: setup
	$(BIN)/python tools/bench/size.py

# The HTTP client (firmware download, log upload): 1.5 MiB over loopback, heap, event-loop hold, .mpy size.
bench-http: setup
	$(BIN)/python tools/bench/transfer.py

# Bytes allocated per operation on the hot paths (validation, clock, device model, frames, ticker): results/hot.md
bench-hot: setup
	$(BIN)/python tools/bench/hot.py $(ARGS)

# A firmware download during normal work: time, trigger latency, heap, event-loop hold: results/update.md
bench-update: setup
	$(BIN)/python tools/bench/update.py $(ARGS)

bench: bench-size bench-heap bench-hot bench-latency bench-cpu bench-http bench-logs bench-update
	$(BIN)/python tools/bench/report.py

# 10,000 hypothesis-generated bad frames and messages against the simulated station over a real WebSocket.
fuzz: setup
	$(BIN)/python tools/robust/fuzz.py

# CSMS drop after TriggerMessageResponse, silent CSMS, meter silent/bad CRC, 50 power cuts with the CSMS offline.
faults: setup
	$(BIN)/python tools/robust/faults.py

# Firmware and board modules as .mpy (bytecode, the same for the ESP32 and the Unix port), with sizes.
mpy: setup
	$(BIN)/python tools/build/mpy.py --board $(BOARD) --sizes

# The firmware image (ROMFS: the compiled firmware, the board's modules, a version record), deterministic:
#   make image BOARD=host VERSION=1.2.3 OUT=fw.img [FIRMWARE=dir]   (BOARD default esp32_devkitc)
image: setup
	$(BIN)/python tools/build/image.py --board $(BOARD) --out $(or $(OUT),build/$(BOARD)-$(or $(VERSION),dev).img) \
	  $(if $(VERSION),--version $(VERSION)) $(if $(FIRMWARE),--firmware $(FIRMWARE))

# Sign an image for UpdateFirmware (prints signature and signingCertificate), and a development manufacturer CA:
#   make sign-image IMAGE=fw.img KEY=signing.key.pem CERT=signing.pem      make manufacturer-ca OUT=dir
sign-image: setup
	@$(BIN)/python tools/build/sign_image.py sign --image $(IMAGE) --key $(KEY) --cert $(CERT)

manufacturer-ca: setup
	$(BIN)/python tools/build/sign_image.py ca --out $(or $(OUT),build/mfr-ca)

# The version record alone (build/station_version.py), for a frozen build: boards/esp32_devkitc/manifest.py freezes it.
version-record: setup
	@mkdir -p build
	$(BIN)/python tools/build/image.py --record build/station_version.py $(if $(VERSION),--version $(VERSION))

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

# The Unix port 32-bit (i686) with the firmware frozen in, from your MicroPython checkout (lib/mbedtls checked out;
# Debian's gcc-i686-linux-gnu): the closest stand-in for an ESP32's heap (issue 15). Then, e.g.
#   STATION_MICROPYTHON=build/unix32/micropython make bench-heap ARGS=--no-image
.PHONY: unix32
unix32: setup
	$(if $(MICROPYTHON_DIR),,$(error make unix32 MICROPYTHON_DIR=<your MicroPython checkout> [OUT=...]))
	$(BIN)/python tools/build/unix32.py --micropython-dir $(MICROPYTHON_DIR) $(if $(OUT),--out $(OUT))
