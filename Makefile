# Flashback build. `make` builds the release binaries into build/; `make test` builds a
# sanitized copy into build/asan/ and runs every test; `make demo` runs the demo.
# Sources are discovered by directory, so adding a module needs no edit here.

BUILD   ?= build
SAN     ?= 0
TSAN    ?= 0
FUZZ    ?= 0
CC      := clang
VERSION := 0.1.0

ifeq ($(FUZZ),1)
OPT := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
       -fno-omit-frame-pointer -DFB_FUZZING
SANLD := -fsanitize=address,undefined
else ifeq ($(TSAN),1)
# ThreadSanitizer: the simulator's threads (tests/integ/sim_threads.sh).
OPT := -O1 -g -fsanitize=thread -fno-omit-frame-pointer -DFB_TESTING
SANLD := -fsanitize=thread
else ifeq ($(SAN),1)
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
       -fno-omit-frame-pointer -DFB_TESTING
SANLD := -fsanitize=address,undefined
else
# Release: link-time optimization, so the simulator's hot path inlines across modules (the
# engine's tick and input, the network, the event queue).
OPT := -O2 -g -flto
SANLD := -flto
endif

CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -Isrc -DFB_VERSION='"$(VERSION)"' \
           -DFB_SOURCE_DIR='"$(CURDIR)"' $(EXTRA_CFLAGS)
LDFLAGS := $(SANLD)
LDLIBS  := -luv -lcurl -lcrypto -lz -lpthread -lm

CORE_SRC   := $(wildcard src/core/*.c) $(wildcard src/engine/*.c)
NET_SRC    := $(wildcard src/net/*.c)
SERVER_SRC := $(wildcard src/server/*.c)
PEER_SRC   := $(wildcard src/peer/*.c) $(wildcard src/sim/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)
TOOL_SRC   := $(wildcard tools/*.c)
BENCH_SRC  := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

CORE_LIB := $(BUILD)/libfbcore.a
NET_LIB  := $(BUILD)/libfbnet.a
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_BIN := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
TOOL_BIN := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps test unit fuzz fuzz-build demo format format-check clean \
        bench-origin bench-sim bench-crowd bench-manifest bench-proxy site
.DEFAULT_GOAL := all
.SECONDARY:
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

all: $(BUILD)/flashbackd $(BUILD)/flashback $(TOOL_BIN) $(BENCH_BIN) site

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(CORE_LIB): $(call obj,$(CORE_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(NET_LIB): $(call obj,$(NET_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/flashbackd: $(call obj,$(SERVER_SRC)) $(NET_LIB) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/flashback: $(call obj,$(PEER_SRC)) $(NET_LIB) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(NET_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Benchmark helpers (load generators and the like): bench/*.c into build/bench/.
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# A unit test may #include the module's .c to reach statics; it links against every layer,
# and the linker takes from the archives only what the test does not define itself.
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(NET_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -fsanitize=fuzzer,address,undefined $^ $(LDLIBS) -o $@

unit: $(UNIT_BIN) $(BUILD)/flashbackd $(BUILD)/flashback $(TOOL_BIN) site
fuzz-build: $(FUZZ_BIN)

# The demo site's images are generated (deterministically) rather than committed.
ifneq ($(wildcard tools/mksite.c),)
site: $(BUILD)/tools/mksite
	@test -f site/img/.stamp -a site/img/.stamp -nt $(BUILD)/tools/mksite || \
	  ($(BUILD)/tools/mksite site && touch site/img/.stamp)
else
site:
endif

deps:
	@scripts/deps.sh build

# The whole suite: sanitized build, unit tests, integration tests on loopback and in
# network namespaces, browser tests, and a short run of every fuzz target.
test:
	@scripts/deps.sh build test browser
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 unit
	@$(MAKE) --no-print-directory BUILD=build/fuzz FUZZ=1 fuzz-build
	@tests/run.sh build/asan build/fuzz

# Long fuzzing: FUZZ_SECONDS per target (default 300).
fuzz:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory BUILD=build/fuzz FUZZ=1 fuzz-build
	@scripts/fuzz.sh build/fuzz $${FUZZ_SECONDS:-300}

demo:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

bench-origin:
	@scripts/deps.sh build bench
	@$(MAKE) --no-print-directory all
	@bench/origin.sh $(BUILD)

bench-proxy:
	@scripts/deps.sh build bench
	@$(MAKE) --no-print-directory all
	@bench/proxy.sh $(BUILD)

bench-sim:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@bench/sim.sh $(BUILD)

bench-manifest:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory all
	@bench/manifest.sh $(BUILD)

bench-crowd:
	@scripts/deps.sh build test bench
	@$(MAKE) --no-print-directory all
	@bench/crowd.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build site/img

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
