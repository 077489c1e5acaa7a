# akashi - build, test, demo, bench, fuzz.
#
#   make            build/akashi (optimised, -Werror)
#   make deps       install the Debian packages needed to build and test (idempotent)
#   make test       deps, then every suite under ASan+UBSan; ends with "N passed, N failed"
#   make demo       deps, build, run the demo on a store under build/demo/
#   make bench      deps, build, run bench/* (figures next to same-run baselines)
#   make fuzz       libFuzzer targets (clang), each run for FUZZ_SECONDS
#
# Sources are found by wildcard: a new .c file in a module directory is built
# without touching this file. auditd/main.c is the only file outside
# libakashi.a, so unit tests link everything else.

PKGS := sqlite3 openssl jansson libarchive libgit2 expat gmime-3.0 libevent \
        libevent_openssl libevent_pthreads opendkim

# Debian packages: to build, and to run the tests.
DEPS_BUILD := gcc make pkg-config libsqlite3-dev libssl-dev libjansson-dev \
              libarchive-dev libgit2-dev libexpat1-dev libgmime-3.0-dev libevent-dev \
              libopendkim-dev libcmocka-dev
DEPS_TEST := perl sqlite3 openssl python3 git ca-certificates libxml2-utils tzdata postfix unzip \
             chromium poppler-utils curl valgrind python3-aiosmtpd python3-dkim python3-nacl \
             opendkim fonts-noto-cjk
DEPS_FUZZ := clang libclang-rt-14-dev

VARIANT ?= release
ifeq ($(VARIANT),asan)
  B := build/asan
  VFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
else ifeq ($(VARIANT),fuzz)
  # make fuzz: clang, the library instrumented for libFuzzer (which links
  # the fuzzer's main into each target only).
  B := build/fuzz
  VFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
else
  B := build
  VFLAGS := -O2 -g
endif

CC ?= cc
# make V=1 shows every command.
Q := $(if $(V),,@)
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla -Wno-missing-field-initializers -Wno-format-truncation
# The gcc builds hold the warnings; the fuzz build (clang) only needs to run.
ifeq ($(VARIANT),fuzz)
  WARN := -w
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lresolv -lpthread -lm
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -DAKASHI_VERSION=\"0.1-$(VERSION)\" -I. $(WARN) $(VFLAGS) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(VFLAGS) $(LDFLAGS)

LIB_SRCS := $(wildcard lib/*.c evidence/*.c policies/*.c reports/*.c auditd/*/*.c) \
            $(filter-out auditd/main.c,$(wildcard auditd/*.c))
# The shipped policy set is compiled in (so `akashi init` needs no source
# tree): policies/policy_embed.sh turns policies/default/*.json into the byte
# arrays of a generated C file (policies/policy_default.h).
DEFAULT_POLICIES := $(sort $(wildcard policies/default/*.json))
GEN_SRC := $(B)/gen/policy_default.c
LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRCS)) $(B)/obj/gen/policy_default.o
MAIN_OBJ := $(B)/obj/auditd/main.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BINS := $(patsubst tests/fuzz/%.c,$(B)/tests/replay_%,$(FUZZ_SRCS))
E2E := $(sort $(wildcard tests/e2e/*.t))

.DELETE_ON_ERROR:
.PHONY: all deps test check unit-bins demo bench fuzz clean format
all: $(B)/akashi

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# policies/default itself too: its time changes when a file goes away.
$(GEN_SRC): $(DEFAULT_POLICIES) policies/default policies/policy_embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh policies/policy_embed.sh $@ $(DEFAULT_POLICIES)

$(B)/obj/gen/policy_default.o: $(GEN_SRC)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/libakashi.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/akashi: $(MAIN_OBJ) $(B)/libakashi.a
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/tests/test_%: tests/unit/test_%.c $(B)/libakashi.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(shell pkg-config --cflags cmocka) -o $@ $< $(B)/libakashi.a \
		$(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(B)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(B)/libakashi.a
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  REPLAY  $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< tests/fuzz/replay.c $(B)/libakashi.a $(PKG_LIBS)

unit-bins: $(B)/akashi $(UNIT_BINS) $(REPLAY_BINS)

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)

# Files put into the binary with .incbin: the compiler's dependency lists
# cannot see them.
$(B)/obj/reports/bundle_files.o: reports/VERIFY.md reports/verify.py
$(B)/obj/auditd/demo_data.o: tests/data/dmarc/yahoo.com!georgestarcher.com!1781740800!1781827199.xml \
	tests/data/dmarc/google.com!example.com!1701129600!1701215999.xml.zip tests/data/dmarc/mailru.eml

# Install what is missing; do nothing when everything is present. Uses sudo
# only when not root and sudo exists.
deps:
	@missing=""; for p in $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_EXTRA); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
	    >/dev/null || { echo "deps: apt-get failed" >&2; exit 1; }; \
	else echo "deps: all present"; fi

# The whole suite under ASan+UBSan: unit tests (cmocka, TAP), fuzz corpus
# replays, and end-to-end scripts (TAP) against the sanitized binary; the
# daemon's valgrind test runs the release build.
test: deps
	$(MAKE) VARIANT=asan unit-bins
	$(MAKE) VARIANT=release all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  AKASHI=$(CURDIR)/build/asan/akashi AKASHI_RELEASE=$(CURDIR)/build/akashi perl tests/run \
	  $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS)) \
	  $(patsubst tests/fuzz/%.c,build/asan/tests/replay_%,$(FUZZ_SRCS)) $(E2E)

check: test

demo: deps
	$(MAKE) VARIANT=release all
	./build/akashi demo --dir build/demo

bench: deps
	$(MAKE) VARIANT=release all
	@for b in $(sort $(wildcard bench/*.sh)); do echo "== $$b"; ./$$b || exit 1; done

fuzz: deps
	@missing=""; for p in $(DEPS_FUZZ); do dpkg-query -W $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; $$SUDO apt-get install -y -qq $$missing >/dev/null; }
	$(MAKE) CC=clang VARIANT=fuzz fuzz-run

FUZZ_SECONDS ?= 60
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzzers/%,$(FUZZ_SRCS))
$(B)/fuzzers/%: tests/fuzz/%.c $(B)/libakashi.a
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  FUZZ    $@")
	$(Q)$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(B)/libakashi.a $(PKG_LIBS)

# Each target for FUZZ_SECONDS, its corpus seeded from tests/fuzz/corpus.
fuzz-run: $(FUZZ_BINS)
	@for n in $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS)); do \
	  mkdir -p $(B)/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $(B)/fuzzers/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=1048576 $(B)/corpus-$$n \
	    tests/fuzz/corpus/$$n || exit 1; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
