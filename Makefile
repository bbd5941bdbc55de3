# dcvctl — build, test, install. Libraries through pkg-config (design §2).
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKGS := libssh libcurl libssl libcrypto json-c inih
# backup archives: gzip through zlib (lib/tar.c)
PKGS += zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation -MMD -MP $(PKG_CFLAGS)
LDLIBS += $(PKG_LIBS) -lpthread

ifeq ($(SAN),1)
BUILD := build/san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=address,undefined
else
BUILD := build/default
endif

LIB_SRC := $(sort $(wildcard lib/*.c))
CMD_SRC := $(sort $(wildcard cmd/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# unit tests of the command table link the commands too (without main)
CMD_LIB_OBJ := $(filter-out $(BUILD)/cmd/main.o,$(CMD_OBJ))

BATS ?= bats
E2E ?= $(sort $(wildcard tests/e2e/*.bats))

.PHONY: all deps check unit unit-san fuzz fuzz-build fuzz-smoke e2e install clean demo demo-down FORCE

all: dcvctl

# ./dcvctl is whichever variant was built last (SAN=1 or not): copy whenever it differs
dcvctl: $(BUILD)/dcvctl FORCE
	@cmp -s $< $@ || cp $< $@

FORCE:

$(BUILD)/dcvctl: $(CMD_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_cli: $(BUILD)/tests/unit/test_cli.o $(CMD_LIB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	@scripts/deps

# every binary runs, so a failure in one does not hide the results of the others
unit: $(UNIT_BIN)
	@rc=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || rc=1; done; exit $$rc

# The unit tests again under ASan/UBSan (build/san); any UB report fails the run.
unit-san:
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(MAKE) SAN=1 unit

# libFuzzer targets (tests/fuzz/fuzz_*.c) on the lib compiled by clang into build/fuzz. Each runs
# on a scratch copy of its seed corpus (tests/fuzz/corpus/NAME stays as committed); a crash
# leaves build/fuzz/artifacts/NAME-crash-* and fails the run.
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_SMOKE_TIME ?= 5
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wshadow \
	-Wno-missing-field-initializers -MMD -MP $(PKG_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/%.o)
# a target that #includes a lib .c for its static parsers links without that object

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
		$(filter-out $(FUZZ_EXCLUDE_$*),$(FUZZ_LIB_OBJ)) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

define fuzz_run
	@mkdir -p build/fuzz/artifacts; failed=""; for n in $(FUZZ_NAMES); do \
		rm -rf build/fuzz/work/$$n; mkdir -p build/fuzz/work/$$n; \
		dict=; [ ! -f tests/fuzz/fuzz_$$n.dict ] || dict=-dict=tests/fuzz/fuzz_$$n.dict; \
		if build/fuzz/fuzz_$$n -max_total_time=$(1) -max_len=65536 -print_final_stats=1 $$dict \
			-artifact_prefix=build/fuzz/artifacts/$$n- build/fuzz/work/$$n \
			tests/fuzz/corpus/$$n >build/fuzz/work/$$n.log 2>&1; then r=ok; \
		else r=FAILED; failed="$$failed $$n"; tail -n 40 build/fuzz/work/$$n.log; fi; \
		printf 'fuzz_%s: %s, %s runs, %s exec/s\n' $$n $$r \
			"$$(sed -n 's/^stat::number_of_executed_units: *//p' build/fuzz/work/$$n.log)" \
			"$$(sed -n 's/^stat::average_exec_per_sec: *//p' build/fuzz/work/$$n.log)"; \
	done; [ -z "$$failed" ] || { echo "fuzz targets failed:$$failed (inputs in build/fuzz/artifacts)"; exit 1; }
endef

fuzz: $(FUZZ_BIN)
	$(call fuzz_run,$(FUZZ_TIME))

fuzz-smoke: $(FUZZ_BIN)
	$(call fuzz_run,$(FUZZ_SMOKE_TIME))

e2e: dcvctl
	$(SUDO) env DCVCTL=$(CURDIR)/dcvctl CI=$(CI) $(BATS) $(E2E)

# one closing line over every test: "N passed, N failed, N skipped" (scripts/summary)
check: deps
	$(MAKE) dcvctl
	scripts/summary $(MAKE) -k --no-print-directory unit unit-san fuzz-smoke e2e

install: dcvctl
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 dcvctl $(DESTDIR)$(PREFIX)/bin/dcvctl
	install -m 644 man/dcvctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/dcvctl.1
	install -m 644 man/dcvctl.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/dcvctl.conf.5
	install -m 644 completions/dcvctl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dcvctl
	install -m 644 completions/_dcvctl $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_dcvctl
	install -m 644 completions/dcvctl.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/dcvctl.fish

# The lab builds network namespaces: root, or sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

demo: deps
	$(MAKE) dcvctl
	$(SUDO) tests/lab/lab up
	$(SUDO) ./dcvctl -c tests/lab/run/dcvctl.conf hosts --probe
	$(SUDO) ./dcvctl -c tests/lab/run/dcvctl.conf deploy
	$(SUDO) ./dcvctl -c tests/lab/run/dcvctl.conf check

demo-down:
	$(SUDO) tests/lab/lab down

clean:
	rm -rf build dcvctl

-include $(shell find build -name '*.d' 2>/dev/null)
