# vswitch: the entry point. `make demo` and `make test` install what is missing, build and run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)

.PHONY: all deps build test unit-test asan-test fuzz fuzz-smoke format-check format demo bench soak clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: deps $(BUILD)/build.ninja
	@cmake --build $(BUILD) -j $(JOBS)

# The sanitizer build of the unit tests (make soak builds the daemons with it: docs/soak.md).
asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVSW_SANITIZE=ON \
	  -DVSW_UNIT_ONLY=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -L unit

# libFuzzer targets (clang; docs/fuzzing.md), each on a copy of its corpus in tests/fuzz/corpus.
# fuzz-smoke is make test's 60 s per target; fuzz runs them longer (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 60
fuzz-smoke: deps
	@BUILD_FUZZ=$(FUZZ_BUILD) JOBS=$(JOBS) ./tests/fuzz/run.sh -t $(FUZZ_SMOKE_SECONDS)

fuzz: deps
	@BUILD_FUZZ=$(FUZZ_BUILD) JOBS=$(JOBS) ./tests/fuzz/run.sh -t $(FUZZ_SECONDS) $(FUZZ_TARGETS)

format-check:
	@./scripts/format.sh --check

format:
	@./scripts/format.sh

unit-test: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

test: deps format-check build asan-test fuzz-smoke
	@cd $(BUILD) && ctest --output-on-failure --timeout 600

demo: deps build
	@KEEP=$(KEEP) ./scripts/demo.sh

# QUICK=1: one short run per scenario (a smoke check that everything forwards).
# PEERS=ovs: Open vSwitch with DPDK beside vswitch (installed on first use, run privately).
BENCH_P2P = ./bench/port_to_port.py $(if $(PEERS),--peers $(PEERS))
BENCH_GUESTS = ./bench/guest_iperf.py $(if $(PEERS),--peers $(PEERS))
bench: deps build
ifeq ($(QUICK),1)
	@PIPELINE_BENCH=$(BUILD)/bin/pipeline_bench ./bench/pipeline.sh --benchmark_min_time=0.01
	@$(BENCH_P2P) --quick
	@$(BENCH_GUESTS) --quick
else
	@PIPELINE_BENCH=$(BUILD)/bin/pipeline_bench ./bench/pipeline.sh
	@$(BENCH_P2P)
	@$(BENCH_GUESTS)
endif

# The soak (docs/soak.md): tests/integration/test_soak.py for SOAK_SECONDS (make test runs it
# for 60 s) on an ASan/UBSan build of the daemons (SOAK_ASAN=0: the normal build).
SOAK_SECONDS ?= 600
SOAK_RATE ?= 100
SOAK_ASAN ?= 1
SOAK_BUILD ?= build-asan-daemons
SOAK_BIN = $(abspath $(if $(filter 1,$(SOAK_ASAN)),$(SOAK_BUILD),$(BUILD)))/bin
soak: deps build
ifeq ($(SOAK_ASAN),1)
	@cmake -S . -B $(SOAK_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVSW_SANITIZE=ON \
	  >/dev/null
	@cmake --build $(SOAK_BUILD) -j $(JOBS) --target vsw-dataplane vsw-controld vswctl vsw-dpctl
endif
	@SOAK_SECONDS=$(SOAK_SECONDS) SOAK_RATE=$(SOAK_RATE) VSW_BIN=$(SOAK_BIN) VSW_MEMORY=nohuge \
	  /usr/bin/python3 tests/integration/test_soak.py -v

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(SOAK_BUILD)
