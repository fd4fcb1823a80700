# filterd — one flat GNU Makefile.  `make V=1` shows commands; `make O=dir` builds elsewhere.
PREFIX  ?= /usr/local
DESTDIR ?=
O       ?= build
# one spelling of the build directory, however it was given (O=build,
# O=$PWD/build): the dependency files name their targets as the rules do, so
# a header change rebuilds what includes it (an absolute O from t_hostile's
# check-asan left later relative runs with stale objects)
override O := $(patsubst $(CURDIR)/%,%,$(abspath $(O)))
CC      ?= cc
PKGS    := libnftnl libmnl libpcap yaml-0.1 jansson cmocka libcrypto libsystemd libcap-ng libcares

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libnftnl libmnl libpcap yaml-0.1 jansson 2>/dev/null)
CMOCKA_LIBS:= $(shell pkg-config --libs cmocka 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
SAN     ?=
override CFLAGS += -std=gnu11 $(WARN) -Irules -D_GNU_SOURCE $(PKG_CFLAGS) $(SAN)
LDFLAGS += $(SAN)
# Link-time optimisation of the three programs (gcc, no sanitizers): pcap-replay's
# per-packet path runs through rules/ and pcap-replay/ alike; about 5 % fewer
# instructions per packet (bench/replay.sh).  Fat objects: the unit tests and
# benchmarks link the same library without it.  `make LTO=` turns it off.
LTO     ?= $(if $(SAN),,$(if $(filter gcc cc,$(notdir $(CC))),-flto=auto -ffat-lto-objects))

LIB_SRC   := $(sort $(wildcard rules/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(O)/obj/%.o)
LIB       := $(O)/librules.a

FILTERCTL_SRC := $(sort $(wildcard filterd/filterctl*.c filterd/cmd_*.c))
FILTERCTL_OBJ := $(FILTERCTL_SRC:%.c=$(O)/obj/%.o)
FILTERD_SRC   := filterd/filterd.c $(sort $(wildcard filterd/d_*.c))
FILTERD_OBJ   := $(FILTERD_SRC:%.c=$(O)/obj/%.o)
DAEMON_LIBS   := $(shell pkg-config --libs libcrypto libsystemd libcap-ng libcares 2>/dev/null)
REPLAY_SRC    := $(sort $(wildcard pcap-replay/*.c))
REPLAY_OBJ    := $(REPLAY_SRC:%.c=$(O)/obj/%.o)

BINS := $(O)/filterctl $(O)/filterd
ifneq ($(REPLAY_SRC),)
BINS += $(O)/pcap-replay
endif

UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)

.PHONY: all test check-unit check-live demo bench install clean deps fuzz
all: $(BINS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LTO) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(O)/filterctl: $(FILTERCTL_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(LTO) -o $@ $^ $(PKG_LIBS) -lm

$(O)/filterd: $(FILTERD_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(LTO) -o $@ $^ $(PKG_LIBS) $(DAEMON_LIBS) -lm

$(O)/pcap-replay: $(REPLAY_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(LTO) -o $@ $^ $(PKG_LIBS) -lm

$(O)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -Itests/unit -MMD -MP -o $@ $< $(filter %.o,$^) $(LIB) $(PKG_LIBS) $(CMOCKA_LIBS) -lm

# test_reader checks pcap-replay's capture reader against libpcap
$(O)/tests/test_reader: $(O)/obj/pcap-replay/reader.o $(O)/obj/pcap-replay/pcapng.o

# Installs missing Debian packages when run as root on a machine without them.
deps:
	$(Q)scripts/deps.sh

# `make test`: unit tests (cmocka) + live kernel tests; one summary line at the end.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(O)/bench/gencap
	$(Q)O=$(O) scripts/run-tests.sh

check-unit: all $(UNIT_BINS)
	$(Q)O=$(O) ONLY=unit scripts/run-tests.sh

check-live: all $(O)/bench/gencap
	$(Q)O=$(O) ONLY=live SEEDS="$(SEEDS)" SCTP_SEEDS="$(SCTP_SEEDS)" scripts/run-tests.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) scripts/demo.sh

BENCH_BINS := $(patsubst bench/%.c,$(O)/bench/%,$(wildcard bench/*.c))

$(O)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) -lm

bench: all $(BENCH_BINS)
	$(Q)O=$(O) bench/run.sh

# `make install [DESTDIR=...] [PREFIX=/usr/local] [UNITDIR=...]`: filterd and filterctl
# to $(PREFIX)/sbin, pcap-replay to $(PREFIX)/bin, the systemd unit to
# $(PREFIX)/lib/systemd/system (a directory systemd searches for /usr and
# /usr/local alike) with ExecStart= pointing at $(PREFIX)/sbin/filterd, the
# default configuration to /etc/filterd/filterd.conf (never overwritten: filterd
# reads /etc/filterd whatever the prefix), the examples to
# $(PREFIX)/share/filterd and the man pages to $(PREFIX)/share/man; the user
# filterd runs as (sysusers.d) and /etc/filterd's owner (tmpfiles.d) to
# $(PREFIX)/lib, and without DESTDIR both are applied at once when
# systemd-sysusers and systemd-tmpfiles are there.
install: UNITDIR ?= $(PREFIX)/lib/systemd/system
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/filterd \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/lib/sysusers.d \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(UNITDIR) $(DESTDIR)/etc/filterd
	install -m 0644 scripts/filterd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/filterd.conf
	install -m 0644 scripts/filterd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/filterd.conf
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null 2>&1; then \
		echo "systemd-sysusers $(PREFIX)/lib/sysusers.d/filterd.conf"; \
		systemd-sysusers $(PREFIX)/lib/sysusers.d/filterd.conf; \
		if command -v systemd-tmpfiles >/dev/null 2>&1; then \
			echo "systemd-tmpfiles --create $(PREFIX)/lib/tmpfiles.d/filterd.conf"; \
			systemd-tmpfiles --create $(PREFIX)/lib/tmpfiles.d/filterd.conf; \
		fi; \
	fi
	install -m 0755 $(O)/filterd $(O)/filterctl $(DESTDIR)$(PREFIX)/sbin/
	$(if $(filter %/pcap-replay,$(BINS)),install -m 0755 $(O)/pcap-replay $(DESTDIR)$(PREFIX)/bin/,@true)
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' scripts/filterd.service >$(DESTDIR)$(UNITDIR)/filterd.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/filterd.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/filterd.service.tmp $(DESTDIR)$(UNITDIR)/filterd.service
	@if [ -e $(DESTDIR)/etc/filterd/filterd.conf ]; then \
		echo "install: keeping the existing $(DESTDIR)/etc/filterd/filterd.conf (the default is in $(PREFIX)/share/filterd/filterd.conf)"; \
	else \
		echo "install -m 0644 scripts/filterd.conf $(DESTDIR)/etc/filterd/filterd.conf"; \
		install -m 0644 scripts/filterd.conf $(DESTDIR)/etc/filterd/filterd.conf; \
	fi
	install -m 0644 examples/policy.yaml examples/servicetags.json scripts/filterd.conf $(DESTDIR)$(PREFIX)/share/filterd/
	$(if $(filter %/pcap-replay,$(BINS)),install -m 0644 man/pcap-replay.1 $(DESTDIR)$(PREFIX)/share/man/man1/,@true)
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/

# `make check-long [N=1000]`: filterd under valgrind, N reloads, no error and no leak.
.PHONY: check-long
check-long: all
	$(Q)O=$(O) $(if $(N),N=$(N)) tests/long/reloads.sh

clean:
	rm -rf $(O)

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# ---- hostile input: fuzzing and sanitizers (tests/fuzz, SECURITY.md) -------
# `make fuzz [FUZZ_SECONDS=60]`  builds every tests/fuzz/fuzz_*.c with clang's
#     libFuzzer and ASan+UBSan into $(O)/fuzz and runs each for FUZZ_SECONDS
#     with seed corpora from tests/data, tests/fuzz/seeds and ../shared/data.
# `make fuzz-regress`  replays tests/fuzz/regress/<harness>/* through the same
#     harnesses built without libFuzzer (with $(SAN), if any).
# `make check-asan`  builds everything with ASan+UBSan into $(O)/asan and runs
#     the unit tests, the regression inputs and tests/live/t_replay.sh.
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_O       ?= $(O)/fuzz
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -Wno-error
ASAN_O       ?= $(O)/asan
ASAN_LIVE    ?= t_daemon t_guard t_observe t_fqdn
ASAN_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_BINS    := $(FUZZ_NAMES:%=$(O)/fuzzers/fuzz_%)
REGRESS_BINS := $(FUZZ_NAMES:%=$(O)/fuzz-regress/regress_%)
FUZZ_DEFS    := -Itests/fuzz -DFUZZ_SRCDIR='"$(CURDIR)"'

.PHONY: fuzz fuzz-build fuzzers fuzz-regress fuzz-regress-bins unit-bins check-asan print-asan-live

$(O)/fuzzers/fuzz_%: tests/fuzz/fuzz_%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $<")
	$(Q)$(CC) $(CFLAGS) $(FUZZ_DEFS) -MMD -MP -fsanitize=fuzzer -o $@ $< $(filter %.o,$^) $(LIB) $(PKG_LIBS) -lm

$(O)/fuzz-regress/regress_%: tests/fuzz/fuzz_%.c tests/fuzz/standalone.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(FUZZ_DEFS) -MMD -MP -o $@ $< tests/fuzz/standalone.c $(filter %.o,$^) $(LIB) $(PKG_LIBS) -lm

# the replay harness runs pcap-replay's pipeline: every pcap-replay/*.c but main.c
REPLAY_LIB_OBJ := $(filter-out %/main.o,$(REPLAY_OBJ))
$(O)/fuzzers/fuzz_replay $(O)/fuzz-regress/regress_replay: $(REPLAY_LIB_OBJ)
$(O)/fuzzers/fuzz_reader $(O)/fuzz-regress/regress_reader: $(O)/obj/pcap-replay/reader.o $(O)/obj/pcap-replay/pcapng.o

fuzzers: $(FUZZ_BINS)
fuzz-regress-bins: $(REGRESS_BINS)
unit-bins: $(UNIT_BINS)

fuzz-build:
	$(Q)$(MAKE) --no-print-directory O=$(FUZZ_O) CC=$(FUZZ_CC) SAN="$(FUZZ_SAN)" fuzzers

fuzz: fuzz-build
	$(Q)FUZZ_O=$(FUZZ_O) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_NAMES)

fuzz-regress: $(REGRESS_BINS)
	$(Q)for n in $(FUZZ_NAMES); do \
		[ -d tests/fuzz/regress/$$n ] || continue; \
		echo "== fuzz regress: $$n"; \
		$(O)/fuzz-regress/regress_$$n tests/fuzz/regress/$$n || exit 1; \
	done

print-asan-live:
	@echo $(ASAN_LIVE)

check-asan:
	$(Q)$(MAKE) --no-print-directory O=$(ASAN_O) SAN="$(ASAN_SAN)" all unit-bins fuzz-regress-bins
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		O=$(ASAN_O) ONLY=unit scripts/run-tests.sh
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(MAKE) --no-print-directory O=$(ASAN_O) SAN="$(ASAN_SAN)" fuzz-regress
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		O=$(ASAN_O) bash tests/live/t_replay.sh
	@# the daemon's live tests (root): every filterd run under the sanitizers,
	@# their reports (leaks at exit included) written to files, none allowed
	$(Q)rm -rf $(ASAN_O)/reports && mkdir -p $(ASAN_O)/reports
	$(Q)for t in $(ASAN_LIVE); do \
		echo "== live under ASan+UBSan: $$t"; \
		ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0:log_path=$(abspath $(ASAN_O))/reports/asan \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$(abspath $(ASAN_O))/reports/ubsan \
		O=$(ASAN_O) bash tests/live/$$t.sh >$(ASAN_O)/reports.$$t.log 2>&1 || \
		{ grep -A8 '^not ok' $(ASAN_O)/reports.$$t.log | head -40; echo "FAILED: $$t under ASan"; exit 1; }; \
	done
	$(Q)if ls $(ASAN_O)/reports/* >/dev/null 2>&1; then head -60 $(ASAN_O)/reports/*; \
		echo "FAILED: sanitizer reports from the live tests (above)"; exit 1; fi
