# mandate -- build, test and measure.  `make help` lists the targets.

LUA       ?= lua5.4
LUAPKG    ?= $(LUA)
BUILD     ?= build/$(LUA)
CC        ?= cc
PKGCONF   ?= pkg-config

WARN      = -std=c99 -Wall -Wextra -pedantic -Wmissing-prototypes \
            -Wstrict-prototypes -Wshadow -Wconversion
CFLAGS    ?= -O2 -g
WERROR    ?= -Werror
LUA_INC   = $(shell $(PKGCONF) --cflags $(LUAPKG))
SQL_INC   = $(shell $(PKGCONF) --cflags sqlite3)
SQL_LIB   = $(shell $(PKGCONF) --libs sqlite3)
ALL_CFLAGS = $(WARN) $(WERROR) $(CFLAGS) -fPIC -Isrc/core -Isrc/store \
             $(LUA_INC) $(SQL_INC)

CORE_SRC  = $(wildcard src/core/*.c)
STORE_SRC = $(wildcard src/store/*.c)
LUA_SRC   = $(wildcard src/lua/*.c)
SRC       = $(CORE_SRC) $(STORE_SRC) $(LUA_SRC)
OBJ       = $(SRC:src/%.c=$(BUILD)/obj/%.o)
HDR       = $(wildcard src/*/*.h)
LUAMODS   = $(wildcard lua/mandate/*.lua)
SO        = $(BUILD)/mandate/core.so
LUAOUT    = $(LUAMODS:lua/%=$(BUILD)/%)

# what specs, examples and benchmarks need to find the module
RUNENV    = LUA_PATH="$(BUILD)/?.lua;$(BUILD)/?/init.lua;spec/?.lua;bench/?.lua;;" \
            LUA_CPATH="$(BUILD)/?.so;;"

.PHONY: all deps test demo bench bench-instructions bench-checker bench-large asan valgrind lint coverage \
        fuzz rock install clean help

all: $(SO) $(LUAOUT) $(BUILD)/quickstart $(BUILD)/core_test

# the benchmarks' floor: an empty 3-argument C function, built like the module
$(BUILD)/bench_floor.so: bench/floor.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $<

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: src/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(SO): $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(CFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(SQL_LIB)

$(BUILD)/mandate/%.lua: lua/mandate/%.lua
	@mkdir -p $(dir $@)
	cp $< $@

# the engine alone, without Lua or SQLite: proves the core stands by itself
CORE_HDR  = $(wildcard src/core/*.h)

$(BUILD)/quickstart: examples/c/quickstart.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) -Isrc/core -o $@ $< $(CORE_SRC)

$(BUILD)/core_test: spec/c/core_test.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) -Isrc/core -o $@ $< $(CORE_SRC)

test: deps all
	$(BUILD)/core_test
	$(RUNENV) MANDATE_BUILD=$(BUILD) scripts/run-specs $(LUA)

demo: deps all
	@mkdir -p build
	@$(RUNENV) $(LUA) examples/demo.lua build
	@echo; echo "== The engine from C alone (examples/c/quickstart.c)"; $(BUILD)/quickstart

bench: deps all $(BUILD)/bench_floor.so
	$(RUNENV) $(LUA) bench/run.lua S M
	$(RUNENV) $(LUA) bench/contacts_bench.lua | tee -a bench/results.md

# instructions per call: stable on a noisy machine (valgrind counts, not clocks)
bench-instructions: deps all
	@for m in none floor check prepared check_ids; do \
	  $(RUNENV) valgrind --tool=callgrind --callgrind-out-file=/dev/null \
	    $(LUA) bench/instructions.lua $$m 2>&1 | \
	    awk -v m=$$m '/Collected/ { print m, $$4 }'; \
	done | awk '{ n[$$1] = $$2 } END { \
	  base = n["none"]; fl = (n["floor"] - base) / 200000; \
	  printf "%-10s %8s %9s\n", "per call", "instr", "x floor"; \
	  split("floor check prepared check_ids", ms, " "); \
	  for (i = 1; i <= 4; i++) { c = (n[ms[i]] - base) / 200000; \
	    printf "%-10s %8.0f %9.1f\n", ms[i], c, c / fl } }'

bench-checker: deps all
	$(RUNENV) $(LUA) bench/checker.lua

bench-large: deps all $(BUILD)/bench_floor.so
	$(RUNENV) $(LUA) bench/run.lua L

# -- quality gates -----------------------------------------------------------

ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all -shared-libasan
ASAN_RT    = $(shell clang -print-file-name=libclang_rt.asan-x86_64.so)

# the whole suite against a sanitized module preloaded into the stock
# interpreter; leaks inside the interpreter itself are suppressed only
ASAN_ENV   = LD_PRELOAD=$(ASAN_RT) \
             ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
             LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp:print_suppressions=0 \
             UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# one per Lua: objects do not depend on the Lua headers they were built with
ASAN_BUILD = build/asan-$(LUA)

asan: deps
	$(MAKE) --no-print-directory all BUILD=$(ASAN_BUILD) CC=clang \
	  CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-shared-libasan"
	$(ASAN_ENV) $(ASAN_BUILD)/core_test
	$(ASAN_ENV) MANDATE_DIFF_WORLDS=300 \
	LUA_PATH="$(ASAN_BUILD)/?.lua;$(ASAN_BUILD)/?/init.lua;spec/?.lua;bench/?.lua;;" \
	LUA_CPATH="$(ASAN_BUILD)/?.so;;" MANDATE_BUILD=$(ASAN_BUILD) \
	  scripts/run-specs $(LUA)

VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full \
           --errors-for-leak-kinds=definite --show-leak-kinds=definite

valgrind: deps all
	$(VALGRIND) $(BUILD)/core_test
	$(RUNENV) MANDATE_BUILD=$(BUILD) MANDATE_DIFF_WORLDS=100 \
	  scripts/run-specs "$(VALGRIND) $(LUA)"

lint: deps
	luacheck -q lua spec $(wildcard bench examples)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	  --std=c99 --inline-suppr -Isrc/core -Isrc/store src examples/c spec/c

COVERAGE_MIN = 90

coverage: deps
	rm -rf build/cov
	$(MAKE) --no-print-directory all BUILD=build/cov \
	  CFLAGS="-O0 -g --coverage" LDFLAGS="--coverage"
	build/cov/core_test
	LUA_PATH="build/cov/?.lua;build/cov/?/init.lua;spec/?.lua;bench/?.lua;;" \
	LUA_CPATH="build/cov/?.so;;" MANDATE_BUILD=build/cov \
	  scripts/run-specs $(LUA)
	@# lcov 1.16 under Debian's perl prints "Subroutine ... redefined" noise
	lcov -q --capture --directory build/cov --output-file build/cov/all.info 2>/dev/null
	lcov -q --extract build/cov/all.info '*/src/*' --output-file build/cov/lcov.info 2>/dev/null
	lcov --list build/cov/lcov.info 2>/dev/null | tee build/cov/summary.txt
	@awk -F'|' '/Total:/ { sub(/%.*/, "", $$2); gsub(/ /, "", $$2); \
	  if ($$2 + 0 < $(COVERAGE_MIN)) { print "coverage " $$2 "% < $(COVERAGE_MIN)%"; exit 1 } \
	  else print "coverage " $$2 "% >= $(COVERAGE_MIN)%" }' build/cov/summary.txt

# libFuzzer targets of the core: fuzz, fuzz-smoke, fuzz-merge (fuzz/README.md)
include fuzz/fuzz.mk

# -- packaging ---------------------------------------------------------------

PREFIX    ?= /usr/local
LMOD      = $(DESTDIR)$(shell $(PKGCONF) --define-variable=prefix=$(PREFIX) --variable=INSTALL_LMOD $(LUAPKG))
CMOD      = $(DESTDIR)$(shell $(PKGCONF) --define-variable=prefix=$(PREFIX) --variable=INSTALL_CMOD $(LUAPKG))

install: all
	install -d $(LMOD)/mandate $(CMOD)/mandate
	install -m 644 $(LUAMODS) $(LMOD)/mandate/
	install -m 755 $(SO) $(CMOD)/mandate/

# the rockspec builds the same module offline into a throwaway tree, and
# the installed rock must load and answer a check
rock: deps
	rm -rf build/rock-tree
	luarocks make --tree build/rock-tree --lua-version=5.4 mandate-scm-1.rockspec
	LUA_PATH="build/rock-tree/share/lua/5.4/?.lua;build/rock-tree/share/lua/5.4/?/init.lua" \
	LUA_CPATH="build/rock-tree/lib/lua/5.4/?.so" \
	  lua5.4 scripts/check-rock.lua

help:
	@echo "make [all|test|demo|bench|bench-large|asan|valgrind|lint|coverage|fuzz|rock|install|clean]"
	@echo "LUA=lua5.3|lua5.1|luajit selects another Lua (LUAPKG=luajit for its pkg-config name)"

clean:
	rm -rf build
