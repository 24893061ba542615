# tastebud -- build, test, run.
#
#   make            build bin/tastebud and build/libtastebud.a (gcc, -O2)
#   make run        install missing packages, build, fetch the default model,
#                   start the server (`tastebud serve`)
#   make test       install missing packages, build with gcc, build the tests
#                   with clang under ASan+UBSan and run them, run the CLI tests,
#                   run each fuzz target briefly, run the browser test
#   make asan       only the sanitizer unit tests
#   make fuzz       longer fuzzing of every target (FUZZ_SECONDS each, default 300)
#   make bench      build and run every benchmark under bench/
#   make clean      remove build outputs (not ./data)
#
# Sources are found by folder: every src/**/*.c except src/cli goes into the
# library; src/cli/*.c makes the binary; every tests/test_*.c into the unit
# test runner; every bench/*.c and fuzz/fuzz_*.c is its own program. Adding a
# file needs no Makefile change. A CLI command registers itself with a line
# `TB_COMMAND(name, "summary")` at the start of its definition (src/cli/cli.h).

SHELL    := /bin/bash
CC       ?= cc
ifeq ($(origin CC),default)
CC       := gcc
endif
BUILD    ?= build
PKGS     := sqlite3 libcurl libxml-2.0 jansson libutf8proc openblas libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT      ?= -O2 -g
CFLAGS   ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -fno-strict-aliasing -pthread -Iinclude -Isrc $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm -pthread
# PostgreSQL backend: compiled in when libpq is present (it is installed by
# scripts/install-deps); `make PG=0` leaves it out.
PG       ?= $(shell pkg-config --exists libpq 2>/dev/null && echo 1 || echo 0)
ifeq ($(PG),1)
CFLAGS   += -DTB_WITH_PG $(shell pkg-config --cflags libpq)
LDLIBS   += $(shell pkg-config --libs libpq)
endif

# `make V=1` shows full command lines.
ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRCS   := $(shell find src -name '*.c' -not -path 'src/cli/*' | sort)
CLI_SRCS   := $(sort $(wildcard src/cli/*.c))
TEST_SRCS  := $(sort $(wildcard tests/test_*.c))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
FUZZ_SRCS  := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS   := $(CLI_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS  := $(TEST_SRCS:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libtastebud.a

# The web page (web/*) is compiled into the library: scripts/embed-assets
# turns the files into a C array table (build/gen/assets.c, src/server).
WEB_FILES  := $(sort $(wildcard web/*))
LIB_OBJS   += $(BUILD)/gen/assets.o
$(BUILD)/gen/assets.c: scripts/embed-assets $(WEB_FILES)
	@mkdir -p $(dir $@)
	$(Q)scripts/embed-assets $@ $(WEB_FILES)
$(BUILD)/gen/assets.o: $(BUILD)/gen/assets.c
	$(Q)$(CC) $(CFLAGS) -c $< -o $@
BIN        ?= bin/tastebud
GEN        := $(BUILD)/gen/commands.h

.PHONY: e2e
.PHONY: all lib run test asan unit cli-test fuzz fuzz-smoke bench bench-build clean deps deps-test check-clang help
.DEFAULT_GOAL := all

all: $(BIN) $(LIB)
lib: $(LIB)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

# The command table is generated from the TB_COMMAND lines of src/cli/*.c.
$(GEN): $(CLI_SRCS)
	@mkdir -p $(dir $@)
	@grep -h '^TB_COMMAND(' $(CLI_SRCS) | sed -e 's/).*$$/)/' > $@.tmp
	@if ! cmp -s $@.tmp $@; then mv $@.tmp $@; else rm -f $@.tmp; fi

$(BUILD)/src/cli/main.o: $(GEN)
$(BUILD)/src/cli/main.o: CFLAGS += -I$(BUILD)/gen

$(BIN): $(CLI_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS)

# ------------------------------------------------------------------ tests

$(BUILD)/tests/unit: $(TEST_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(TEST_OBJS) $(LIB) $(LDLIBS) -lcriterion

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, built with
# clang (the release build uses gcc, so every `make test` compiles with both).
asan: deps-test
	$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/tastebud CC=clang \
	    OPT="-O1 -g $(SAN)" build/asan/tests/unit build/asan/tastebud
	set -o pipefail; ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    scripts/with-pg build/asan/tests/unit --jobs=2 $(CRITERION_ARGS) 2>&1 | tee build/asan/unit.log

unit: $(BUILD)/tests/unit
	$(BUILD)/tests/unit $(CRITERION_ARGS)

cli-test: $(BIN)
	@mkdir -p $(BUILD)
	set -o pipefail; scripts/with-pg tests/cli/run.sh $(BIN) 2>&1 | tee $(BUILD)/cli.log

test: deps-test
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory cli-test BIN=build/asan/tastebud BUILD=build/asan
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory e2e
	@scripts/test-summary build/asan/unit.log build/asan/cli.log

# Browser end-to-end test of the web page (headless Chromium, the real
# fetcher and a fixture feed server; ~10 s; skips cleanly without chromium).
# The last stage of `make test`.
e2e:
	@scripts/install-deps e2e
	$(MAKE) --no-print-directory all
	tests/e2e/serve.sh $(BIN)

# ------------------------------------------------------------------ fuzzing

FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=build/fuzz/bin/%)

build/fuzz/bin/%: fuzz/%.c
	$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang \
	    OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" build/fuzz/libtastebud.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang $(CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< \
	    build/fuzz/libtastebud.a $(LDLIBS)

fuzz-smoke: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do scripts/fuzz-run $$f $(FUZZ_SMOKE_SECONDS) || exit 1; done

fuzz: deps-test $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do scripts/fuzz-run $$f $(FUZZ_SECONDS) || exit 1; done

# ------------------------------------------------------------------ benchmarks

BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench-build: $(BENCH_BINS) $(BIN)

bench: bench-build
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# ------------------------------------------------------------------ setup

deps:
	@scripts/install-deps build

deps-test:
	@scripts/install-deps test

DATA_DIR ?= ./data
run: deps
	$(MAKE) --no-print-directory all
	scripts/fetch-default-model --data-dir $(DATA_DIR)
	$(BIN) --data-dir $(DATA_DIR) serve $(SERVE_ARGS)

check-clang:
	$(MAKE) --no-print-directory BUILD=build/clang BIN=build/clang/tastebud CC=clang all

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
