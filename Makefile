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
LUA_SRC   = src/lua/lmandate.c  # includes the other src/lua/l*.c
SRC       = $(CORE_SRC) $(STORE_SRC) $(LUA_SRC)
OBJ       = $(SRC:src/%.c=$(BUILD)/obj/%.o)
HDR       = $(wildcard src/*/*.h)
LUAMODS   = $(wildcard lua/mandate/*.lua)
SO        = $(BUILD)/mandate/core.so
LUAOUT    = $(LUAMODS:lua/%=$(BUILD)/%)

# what specs, examples and benchmarks need to find the module
RUNENV    = LUA_PATH="$(BUILD)/?.lua;$(BUILD)/?/init.lua;spec/?.lua;bench/?.lua;;" \
            LUA_CPATH="$(BUILD)/?.so;;"

.PHONY: all deps deps-gates test demo bench bench-instructions bench-checker bench-csv bench-large asan valgrind \
        lint coverage fuzz rock install uninstall check-install nginx-example nginx-example-stop \
        clean help

all: $(SO) $(LUAOUT) $(BUILD)/quickstart $(BUILD)/core_test

# the benchmarks' floor: an empty 3-argument C function, built like the module
$(BUILD)/bench_floor.so: bench/floor.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $<

# the bulk write figure's baseline: the same rows by a bare C loop
$(BUILD)/bench_bulk.so: bench/bulk.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $< $(SQL_LIB)

# what building and running need (a compiler, pkg-config, SQLite, this Lua)
# and what the gates need besides (every Lua, busted, linters, nginx, ...)
deps:
	@scripts/install-deps $(notdir $(LUA))

deps-gates:
	@scripts/install-deps --gates

$(BUILD)/obj/%.o: src/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# the binding is one translation unit: lmandate.c includes its parts
$(BUILD)/obj/lua/lmandate.o: $(wildcard src/lua/l*.c)

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

# the engine's test, with the C reference of docs/semantics.md that it
# shares with fuzz/fuzz_api.c
REF_C     = spec/c/reference.c

$(BUILD)/core_test: spec/c/core_test.c $(REF_C) spec/c/reference.h \
                    $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(CFLAGS) -Isrc/core -o $@ $< $(REF_C) $(CORE_SRC)

test: deps-gates all
	$(BUILD)/core_test
	$(RUNENV) MANDATE_BUILD=$(BUILD) scripts/run-specs $(LUA)

demo: deps all
	@mkdir -p build
	@$(RUNENV) $(LUA) examples/demo.lua build
	@echo; echo "== The engine from C alone (examples/c/quickstart.c)"; $(BUILD)/quickstart

bench: deps all $(BUILD)/bench_floor.so $(BUILD)/bench_bulk.so
	$(RUNENV) $(LUA) bench/run.lua S M
	$(RUNENV) $(LUA) bench/contacts_bench.lua | tee -a bench/results.md
	$(RUNENV) $(LUA) bench/csv_bench.lua | tee -a bench/results.md

# the CSV round trip alone (part of make bench): prints, writes no file
bench-csv: deps all
	$(RUNENV) $(LUA) bench/csv_bench.lua

# instructions per call: stable on a noisy machine (valgrind counts, not clocks)
bench-instructions: deps-gates all
	@for m in none floor check prepared check_ids denied check_log denied_log; do \
	  $(RUNENV) valgrind --tool=callgrind --callgrind-out-file=/dev/null \
	    $(LUA) bench/instructions.lua $$m 2>&1 | \
	    awk -v m=$$m '/Collected/ { print m, $$4 }'; \
	done | awk '{ n[$$1] = $$2 } END { \
	  base = n["none"]; fl = (n["floor"] - base) / 200000; \
	  printf "%-10s %8s %9s\n", "per call", "instr", "x floor"; \
	  split("floor check prepared check_ids denied check_log denied_log", ms, " "); \
	  for (i = 1; i <= 7; i++) { c = (n[ms[i]] - base) / 200000; \
	    printf "%-10s %8.0f %9.1f\n", ms[i], c, c / fl } }'

bench-checker: deps all
	$(RUNENV) $(LUA) bench/checker.lua

bench-large: deps all $(BUILD)/bench_floor.so $(BUILD)/bench_bulk.so
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

asan: deps-gates
	$(MAKE) --no-print-directory all BUILD=$(ASAN_BUILD) CC=clang \
	  CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-shared-libasan"
	$(ASAN_ENV) $(ASAN_BUILD)/core_test
	$(ASAN_ENV) MANDATE_DIFF_WORLDS=300 \
	LUA_PATH="$(ASAN_BUILD)/?.lua;$(ASAN_BUILD)/?/init.lua;spec/?.lua;bench/?.lua;;" \
	LUA_CPATH="$(ASAN_BUILD)/?.so;;" MANDATE_BUILD=$(ASAN_BUILD) \
	  scripts/run-specs $(LUA)

VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full \
           --errors-for-leak-kinds=definite --show-leak-kinds=definite

valgrind: deps-gates all
	$(VALGRIND) $(BUILD)/core_test
	$(RUNENV) MANDATE_BUILD=$(BUILD) MANDATE_DIFF_WORLDS=100 \
	  MANDATE_PLAN_WORLDS=30 MANDATE_MOVES_WORLDS=15 MANDATE_HISTORY_RUNS=2 \
	  scripts/run-specs "$(VALGRIND) $(LUA)"

lint: deps-gates
	luacheck -q lua spec $(wildcard bench examples)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	  --std=c99 --inline-suppr -Isrc/core -Isrc/store src examples/c spec/c

COVERAGE_MIN = 90

coverage: deps-gates
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

# Install where $(LUA) itself looks under PREFIX: scripts/lua-dirs.lua reads
# the interpreter's package.path and package.cpath (Debian's lua5.4 and
# PREFIX=/usr/local: /usr/local/share/lua/5.4, /usr/local/lib/lua/5.4).  A
# PREFIX it does not search gets PREFIX/share/lua/V and PREFIX/lib/lua/V, and
# `make install` prints the LUA_PATH and LUA_CPATH to set.
PREFIX    ?= /usr/local
LUA_DIRS   = $(shell env -u LUA_PATH -u LUA_CPATH -u LUA_INIT \
               -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT_5_4 \
               -u LUA_PATH_5_3 -u LUA_CPATH_5_3 -u LUA_INIT_5_3 \
               $(LUA) scripts/lua-dirs.lua $(PREFIX))
LUA_SHAREDIR ?= $(word 1,$(LUA_DIRS))
LUA_LIBDIR   ?= $(word 2,$(LUA_DIRS))
LMOD      = $(DESTDIR)$(LUA_SHAREDIR)
CMOD      = $(DESTDIR)$(LUA_LIBDIR)

install: deps all
	@test -n "$(LUA_SHAREDIR)" -a -n "$(LUA_LIBDIR)" || \
	  { echo "install: cannot tell where $(LUA) looks for modules" \
	         "(set LUA_SHAREDIR and LUA_LIBDIR)"; exit 1; }
	install -d $(LMOD)/mandate $(CMOD)/mandate
	install -m 644 $(LUAMODS) $(LMOD)/mandate/
	install -m 755 $(SO) $(CMOD)/mandate/
	@case "$(word 3,$(LUA_DIRS))" in searched) ;; *) \
	  echo "install: $(LUA) does not search $(LUA_SHAREDIR) and $(LUA_LIBDIR);" \
	       "before running it, set"; \
	  echo "  export LUA_PATH=\"$(LUA_SHAREDIR)/?.lua;$(LUA_SHAREDIR)/?/init.lua;;\""; \
	  echo "  export LUA_CPATH=\"$(LUA_LIBDIR)/?.so;;\"";; esac

uninstall:
	rm -f $(addprefix $(LMOD)/mandate/,$(notdir $(LUAMODS))) $(CMOD)/mandate/core.so
	rmdir $(LMOD)/mandate $(CMOD)/mandate 2>/dev/null || true

# the install gate: make install into a staging root (DESTDIR) for each Lua,
# then README's first script from an empty directory with the stock
# interpreter; the same for a PREFIX that needs LUA_PATH and LUA_CPATH
check-install: deps-gates
	scripts/check-install

# the rockspec builds the same module offline, from a copy of the sources
# (the source tree stays as it was), into a throwaway tree per Lua, and the
# installed rock must load and answer a check
ROCK_LUAS ?= lua5.4 lua5.3 lua5.1 luajit

rock: deps-gates
	scripts/check-rock $(ROCK_LUAS)

# examples/openresty/nginx.conf rendered into build/nginx-example and started
# on 127.0.0.1:NGINX_PORT (8080) with a sample store; stop it with
# `make nginx-example-stop`
NGINX_PORT ?= 8080

nginx-example:
	@scripts/install-deps --nginx
	scripts/run-openresty-example start $(NGINX_PORT)

nginx-example-stop:
	scripts/run-openresty-example stop

help:
	@echo "make [TARGET] [VARIABLE=value ...]"
	@echo
	@echo "build and use"
	@echo "  all                the module, quickstart and core_test in BUILD (default)"
	@echo "  demo               build, then examples/demo.lua on two real stores"
	@echo "  install            install for LUA under PREFIX (DESTDIR for staging)"
	@echo "  uninstall          remove what install put there"
	@echo "  nginx-example      render examples/openresty/nginx.conf, start it on NGINX_PORT"
	@echo "  nginx-example-stop stop that nginx"
	@echo "  deps               the Debian packages to build and run (scripts/install-deps)"
	@echo "  deps-gates         also those every gate needs (scripts/install-deps --gates)"
	@echo "  clean              remove build/"
	@echo
	@echo "gates (bash .ci/run runs them all)"
	@echo "  test               core_test and every busted spec"
	@echo "  lint               luacheck and cppcheck"
	@echo "  asan, valgrind     the suite under AddressSanitizer+UBSan, under valgrind"
	@echo "  coverage           gcov/lcov line coverage of src/, fails under COVERAGE_MIN %"
	@echo "  check-install      staged install per Lua, then README's first script"
	@echo "  rock               luarocks make per Lua (ROCK_LUAS) from a copy, then load it"
	@echo "  fuzz, fuzz-smoke   libFuzzer targets for FUZZ_SECONDS, FUZZ_SMOKE_SECONDS each"
	@echo "  fuzz-build, fuzz-merge, fuzz-clean   (fuzz/README.md)"
	@echo
	@echo "benchmarks"
	@echo "  bench              worlds S and M, list resolution, the CSV round trip (bench/results.md)"
	@echo "  bench-large        world L (bench/results-L.md)"
	@echo "  bench-instructions instructions per call under callgrind"
	@echo "  bench-checker      db:checker() alone"
	@echo "  bench-csv          the CSV round trip alone (100 bundles x 100 rights)"
	@echo
	@echo "variables (now)"
	@echo "  LUA=$(LUA)       lua5.4, lua5.3, lua5.1 or luajit (or a path)"
	@echo "  LUAPKG=$(LUAPKG)    its pkg-config name (luajit for LUA=luajit)"
	@echo "  BUILD=$(BUILD)   build directory"
	@echo "  CC=$(CC) CFLAGS=$(CFLAGS) LDFLAGS=$(LDFLAGS) WERROR=$(WERROR) PKGCONF=$(PKGCONF)"
	@echo "  PREFIX=$(PREFIX)   DESTDIR=$(DESTDIR)   (install, uninstall)"
	@echo "  LUA_SHAREDIR, LUA_LIBDIR   where install puts the .lua files and core.so"
	@echo "                     (default: where LUA looks under PREFIX)"
	@echo "  ROCK_LUAS=$(ROCK_LUAS)   NGINX_PORT=$(NGINX_PORT)"
	@echo "  COVERAGE_MIN=$(COVERAGE_MIN)   FUZZ_SECONDS=$(FUZZ_SECONDS)" \
	      "FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_ARGS=$(FUZZ_ARGS)"
	@echo "  FUZZ_CC=$(FUZZ_CC) FUZZ_DIR=$(FUZZ_DIR) FUZZ_SAN, FUZZ_CFLAGS (fuzz/fuzz.mk)"
	@echo "  environment: MANDATE_GC=generational|aggressive, MANDATE_DIFF_WORLDS=N (specs)"

clean:
	rm -rf build
