# fuzz.mk -- libFuzzer targets for the core (see fuzz/README.md).
#
# Works included from the Makefile (`include fuzz/fuzz.mk`) and alone
# (`make -f fuzz/fuzz.mk fuzz-smoke`), from the repository root.  Uses only
# the FUZZ_ variables defined here.
#
#   fuzz-smoke   each target FUZZ_SMOKE_SECONDS (20) on its corpus; fails
#                on any crash, leak, UB or broken invariant (for CI)
#   fuzz         each target FUZZ_SECONDS (300) with FUZZ_JOBS workers
#   fuzz-merge   minimize the run corpus back into fuzz/corpus/<target>
#   fuzz-build   just the binaries, in build/fuzz/
#   fuzz-clean   remove build/fuzz
#
# Crashing inputs go to build/fuzz/artifacts/; new corpus entries to
# build/fuzz/corpus/<target>/ (the committed seeds in fuzz/corpus/ are
# only read).  Reproduce a crash with build/fuzz/<target> <file>.

FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC       ?= clang
FUZZ_SAN      ?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS   ?= -std=c99 -g -O1 -fno-omit-frame-pointer -Wall -Wextra \
                 -pedantic -Wshadow
FUZZ_DIR      ?= build/fuzz
FUZZ_SECONDS  ?= 300
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_JOBS     ?= 1
FUZZ_ARGS     ?=
FUZZ_TARGETS  := fuzz_value fuzz_keys fuzz_api
FUZZ_CORE_SRC := $(wildcard src/core/*.c)
FUZZ_CORE_HDR := $(wildcard src/core/*.h)
# fuzz_api holds the engine against the C reference of docs/semantics.md
# that it shares with spec/c/core_test.c (linked into fuzz_api only)
FUZZ_REF      := spec/c/reference.c
FUZZ_REF_HDR  := spec/c/reference.h
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_ENV      := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
                 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -timeout: a slow input is a bug here too; inputs are cut at 4096 bytes
FUZZ_RUNFLAGS := -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
                 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-merge fuzz-clean

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BINS): $(FUZZ_DIR)/%: fuzz/%.c $(FUZZ_CORE_SRC) $(FUZZ_CORE_HDR) \
              fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) $(FUZZ_CFLAGS) -Isrc/core -Ispec/c -o $@ $< \
	  $(filter $(FUZZ_REF),$^) $(FUZZ_CORE_SRC)

$(FUZZ_DIR)/fuzz_api $(FUZZ_DIR)/merge/fuzz_api: $(FUZZ_REF) $(FUZZ_REF_HDR)

# $(call FUZZ_RUN,target,seconds,extra flags)
FUZZ_RUN = mkdir -p $(FUZZ_DIR)/artifacts $(FUZZ_DIR)/corpus/$(1) && \
  echo "== $(1): $(2) s" && \
  $(FUZZ_ENV) $(FUZZ_DIR)/$(1) $(FUZZ_RUNFLAGS) -max_total_time=$(2) $(3) \
    $(FUZZ_ARGS) $(FUZZ_DIR)/corpus/$(1) fuzz/corpus/$(1) \
    > $(FUZZ_DIR)/$(1).log 2>&1 || \
  { tail -n 60 $(FUZZ_DIR)/$(1).log; \
    echo "fuzz: $(1) failed; input in $(FUZZ_DIR)/artifacts/"; exit 1; }; \
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)' \
    $(FUZZ_DIR)/$(1).log | tr '\n' ' '; \
  grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9/]+[a-zA-Z]*' \
    $(FUZZ_DIR)/$(1).log | tail -n 1

fuzz-smoke: $(FUZZ_BINS)
	@$(foreach t,$(FUZZ_TARGETS),\
	  $(call FUZZ_RUN,$(t),$(FUZZ_SMOKE_SECONDS),) &&) true

fuzz: $(FUZZ_BINS)
	@$(foreach t,$(FUZZ_TARGETS),$(call FUZZ_RUN,$(t),$(FUZZ_SECONDS),\
	  $(if $(filter-out 1,$(FUZZ_JOBS)),-fork=$(FUZZ_JOBS),)) &&) true

# Keep the committed corpus small: merge with binaries whose coverage is
# the core's edges only (the harness and the reference are left
# uninstrumented, counters ignored), so only inputs that reach a new edge
# of src/core are kept.
FUZZ_MERGE_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/merge/%)

$(FUZZ_DIR)/merge/ignore.txt: fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	printf 'src:*fuzz/*\nsrc:*spec/c/*\n' > $@

$(FUZZ_MERGE_BINS): $(FUZZ_DIR)/merge/%: fuzz/%.c $(FUZZ_CORE_SRC) \
                    $(FUZZ_CORE_HDR) $(FUZZ_DIR)/merge/ignore.txt
	$(FUZZ_CC) $(FUZZ_SAN) \
	  -fsanitize-coverage-ignorelist=$(FUZZ_DIR)/merge/ignore.txt \
	  $(FUZZ_CFLAGS) -Isrc/core -Ispec/c -o $@ $< \
	  $(filter $(FUZZ_REF),$^) $(FUZZ_CORE_SRC)

fuzz-merge: $(FUZZ_MERGE_BINS)
	@$(foreach t,$(FUZZ_TARGETS),mkdir -p $(FUZZ_DIR)/corpus/$(t) && \
	  $(FUZZ_DIR)/merge/$(t) -merge=1 -use_counters=0 -max_len=4096 \
	    fuzz/corpus/$(t) $(FUZZ_DIR)/corpus/$(t) \
	    > $(FUZZ_DIR)/$(t).merge.log 2>&1 && \
	  echo "$(t): $$(ls fuzz/corpus/$(t) | wc -l) files," \
	    "$$(du -sb fuzz/corpus/$(t) | cut -f1) bytes" &&) true

fuzz-clean:
	rm -rf $(FUZZ_DIR)

# included: leave the including Makefile's default goal alone
ifeq ($(FUZZ_SAVED_GOAL),)
ifneq ($(filter %fuzz.mk,$(firstword $(MAKEFILE_LIST))),)
.DEFAULT_GOAL := fuzz-smoke
else
.DEFAULT_GOAL :=
endif
else
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
endif
