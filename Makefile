# threshold — one plain GNU Makefile.
#   make            release binary at build/threshold
#   make check      every test, release and ASan+UBSan builds, fuzz corpora replayed
#   make fuzz       libFuzzer (clang) on every target, FUZZ_SECONDS each
#   make bench      benchmarks (never in CI)
#   make demo       the usage example end to end
CC      ?= gcc
CLANG   ?= clang
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wvla -Wundef -Wcast-align -Wnull-dereference \
           -Wconversion -Wsign-conversion -Wwrite-strings -Wmissing-declarations
# A public daemon: fortified libc calls, stack canaries, a position-independent
# executable with read-only relocations bound at start.
HARDEN  := -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now
BASEFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) $(HARDEN) -Isrc -MMD -MP \
           -DTHRESHOLD_VERSION='"$(VERSION)"' -DTHRESHOLD_GITREV='"$(GITREV)"'
REL_CFLAGS  := $(BASEFLAGS) -O2 -g -D_FORTIFY_SOURCE=2
ASAN_CFLAGS := $(BASEFLAGS) -O1 -g -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=all
LIBS    := -lssl -lcrypto -ljansson
FUZZ_SECONDS ?= 60

LIB_SRC   := $(sort $(wildcard src/*/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
TOOL_SRC  := $(sort $(wildcard tests/interop/*.c bench/*.c))
# The shared mux test harness (tests/common/) goes into the three programs that
# drive the engine as an application; $(HARNESS) is empty for every other one.
MUX_HARNESS_SRC   := tests/common/mux_harness.c tests/common/mux_harness.h
MUX_HARNESS       := -Itests/common tests/common/mux_harness.c
MUX_HARNESS_USERS := tests/test_mux fuzz/fuzz_mux tools/mux_peer

.PHONY: all deps deps-check check test fuzz bench demo clean FORCE
.DEFAULT_GOAL := all

# main.o carries the git revision: rebuild it when the revision changes.
build/gitrev.stamp: FORCE
	@mkdir -p build
	@echo '$(GITREV)' | cmp -s - $@ || echo '$(GITREV)' > $@
all: build/threshold

deps:
	@scripts/deps.sh build
deps-check:
	@scripts/deps.sh check

# $(1) = build name (rel, asan), $(2) = CFLAGS
define BUILD_template
$(1)_OBJ  := $$(patsubst src/%.c,build/$(1)/obj/%.o,$$(LIB_SRC))
build/$(1)/obj/%.o: src/%.c | deps
	@mkdir -p $$(@D)
	$$(CC) $(2) -c $$< -o $$@
build/$(1)/libthreshold.a: $$($(1)_OBJ)
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/obj/main.o: src/main.c build/gitrev.stamp | deps
	@mkdir -p $$(@D)
	$$(CC) $(2) -c $$< -o $$@
build/$(1)/threshold: build/$(1)/obj/main.o build/$(1)/libthreshold.a
	$$(CC) $(2) $(HARDEN_LD) -o $$@ $$^ $$(LIBS)
build/$(1)/tests/%: tests/unit/%.c build/$(1)/libthreshold.a | deps-check
	@mkdir -p $$(@D)
	$$(CC) $(2) $(HARDEN_LD) -Wno-missing-prototypes -Wno-missing-declarations -o $$@ $$< $$(HARNESS) build/$(1)/libthreshold.a $$(LIBS) -lcmocka
build/$(1)/fuzz/%: fuzz/%.c fuzz/replay.c build/$(1)/libthreshold.a | deps-check
	@mkdir -p $$(@D)
	$$(CC) $(2) $(HARDEN_LD) -Wno-missing-prototypes -Wno-missing-declarations -o $$@ $$< $$(HARNESS) fuzz/replay.c build/$(1)/libthreshold.a $$(LIBS)
build/$(1)/tools/%: tests/interop/%.c build/$(1)/libthreshold.a | deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $(HARDEN_LD) -o $$@ $$< $$(HARNESS) build/$(1)/libthreshold.a $$(LIBS) -lcrypto
$$(addprefix build/$(1)/,$$(MUX_HARNESS_USERS)): $$(MUX_HARNESS_SRC)
$$(addprefix build/$(1)/,$$(MUX_HARNESS_USERS)): HARNESS := $$(MUX_HARNESS)
build/$(1)/tools/%: bench/%.c build/$(1)/libthreshold.a | deps
	@mkdir -p $$(@D)
	$$(CC) $(2) $(HARDEN_LD) -o $$@ $$< build/$(1)/libthreshold.a $$(LIBS)
$(1)-all: build/$(1)/threshold \
	$$(patsubst tests/unit/%.c,build/$(1)/tests/%,$$(UNIT_SRC)) \
	$$(patsubst fuzz/%.c,build/$(1)/fuzz/%,$$(FUZZ_SRC)) \
	$$(patsubst %.c,build/$(1)/tools/%,$$(notdir $$(TOOL_SRC)))
-include $$($(1)_OBJ:.o=.d) build/$(1)/obj/main.d $$(wildcard build/$(1)/tests/*.d build/$(1)/fuzz/*.d build/$(1)/tools/*.d)
endef
$(eval $(call BUILD_template,rel,$(REL_CFLAGS)))
$(eval $(call BUILD_template,asan,$(ASAN_CFLAGS)))
.PHONY: rel-all asan-all

build/threshold: build/rel/threshold
	cp $< $@

check: deps-check
	@$(MAKE) --no-print-directory rel-all asan-all build/threshold
	@scripts/run-tests.sh

test: check

# libFuzzer builds (clang): fuzz every target for FUZZ_SECONDS from fuzz/corpus/<target>;
# new inputs go to build/fuzz-new/<target> (merge the useful ones with -merge=1).
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
               -DTHRESHOLD_VERSION='"$(VERSION)"' -DTHRESHOLD_GITREV='"$(GITREV)"'
build/fuzz/%: fuzz/%.c $(LIB_SRC) | deps-check
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(HARNESS) $(LIB_SRC) $(LIBS)
build/fuzz/fuzz_mux: $(MUX_HARNESS_SRC)
build/fuzz/fuzz_mux: HARNESS := $(MUX_HARNESS)
fuzz: $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
	@for t in $^; do n=$$(basename $$t); mkdir -p fuzz/corpus/$$n build/fuzz-new/$$n; \
	  echo "== fuzzing $$n for $(FUZZ_SECONDS)s (new inputs: build/fuzz-new/$$n)"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz-new/$$n fuzz/corpus/$$n || exit 1; done

bench: deps
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory rel-all build/threshold
	@bench/run.sh

demo: deps
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build/threshold
	@scripts/demo.sh

clean:
	rm -rf build
