# filterd — one flat GNU Makefile.  `make V=1` shows commands; `make O=dir` builds elsewhere.
PREFIX  ?= /usr/local
DESTDIR ?=
O       ?= build
CC      ?= cc
PKGS    := libnftnl libmnl libpcap yaml-0.1 jansson cmocka libcrypto libsystemd libcap-ng

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

LIB_SRC   := $(sort $(wildcard rules/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(O)/obj/%.o)
LIB       := $(O)/librules.a

FILTERCTL_SRC := $(sort $(wildcard filterd/filterctl*.c filterd/cmd_*.c))
FILTERCTL_OBJ := $(FILTERCTL_SRC:%.c=$(O)/obj/%.o)
FILTERD_SRC   := filterd/filterd.c $(sort $(wildcard filterd/d_*.c))
FILTERD_OBJ   := $(FILTERD_SRC:%.c=$(O)/obj/%.o)
DAEMON_LIBS   := $(shell pkg-config --libs libcrypto libsystemd libcap-ng 2>/dev/null)
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
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(O)/filterctl: $(FILTERCTL_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(O)/filterd: $(FILTERD_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(DAEMON_LIBS) -lm

$(O)/pcap-replay: $(REPLAY_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(O)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -Itests/unit -MMD -MP -o $@ $< $(LIB) $(PKG_LIBS) $(CMOCKA_LIBS) -lm

# Installs missing Debian packages when run as root on a machine without them.
deps:
	$(Q)scripts/deps.sh

# `make test`: unit tests (cmocka) + live kernel tests; one summary line at the end.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS)
	$(Q)O=$(O) scripts/run-tests.sh

check-unit: all $(UNIT_BINS)
	$(Q)O=$(O) ONLY=unit scripts/run-tests.sh

check-live: all
	$(Q)O=$(O) ONLY=live SEEDS="$(SEEDS)" scripts/run-tests.sh

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

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/filterd
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 examples/policy.yaml examples/servicetags.json $(DESTDIR)$(PREFIX)/share/filterd/
	install -d $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/ 2>/dev/null || true
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/ 2>/dev/null || true

clean:
	rm -rf $(O)

-include $(shell find $(O) -name '*.d' 2>/dev/null)
