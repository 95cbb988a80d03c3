# vswitch: the entry point. `make demo` and `make test` install what is missing, build and run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)

.PHONY: all deps build test unit-test asan-test format-check format demo bench clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: deps $(BUILD)/build.ninja
	@cmake --build $(BUILD) -j $(JOBS)

# The sanitizer build covers the unit tests (see CMakeLists.txt for why not the daemons).
asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVSW_SANITIZE=ON \
	  -DVSW_UNIT_ONLY=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -L unit

format-check:
	@./scripts/format.sh --check

format:
	@./scripts/format.sh

unit-test: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

test: deps format-check build asan-test
	@cd $(BUILD) && ctest --output-on-failure --timeout 600

demo: deps build
	@KEEP=$(KEEP) ./scripts/demo.sh

# QUICK=1: one short run per scenario (a smoke check that everything forwards).
# PEERS=ovs: Open vSwitch with DPDK beside vswitch (installed on first use, run privately).
BENCH_P2P = ./bench/port_to_port.py $(if $(PEERS),--peers $(PEERS))
BENCH_GUESTS = ./bench/guest_iperf.py $(if $(PEERS),--peers $(PEERS))
bench: deps build
ifeq ($(QUICK),1)
	@$(BUILD)/bin/pipeline_bench --benchmark_min_time=0.01
	@$(BENCH_P2P) --quick
	@$(BENCH_GUESTS) --quick
else
	@$(BUILD)/bin/pipeline_bench
	@$(BENCH_P2P)
	@$(BENCH_GUESTS)
endif

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
