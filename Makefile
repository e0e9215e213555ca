# Xenia: `make demo` and `make test` are the two commands; see README.md.
BUILD ?= build
FUZZ_BUILD ?= build-fuzz
PYTEST = /usr/bin/python3 -m pytest
FUZZ_SECONDS ?= 40

.PHONY: all deps build demo test unit integration fuzz fuzz-build bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps build
	scripts/demo.sh

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build
	$(PYTEST) -q -rs tests/integration

fuzz-build: deps
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dwerror=true
	ninja -C $(FUZZ_BUILD)

# A short run of every harness over its seed corpus; `make fuzz
# FUZZ_SECONDS=600` for a real session.
fuzz: fuzz-build
	scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Unit tests, a short fuzz run, then the integration suite (whose pytest
# summary line closes the output).
test: deps
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(MAKE) integration

bench: deps build
	bench/xenstore/run.sh
	bench/boot/run.sh
	bench/hypercall/run.sh
	bench/blk/run.sh
	bench/net/run.sh
	bench/lifecycle/run.py
	bench/migrate/run.py

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
