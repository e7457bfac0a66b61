# SPDX-License-Identifier: BSD-2-Clause
# vjbuild. `make` builds ./vjbuild; `make check` runs the tests;
# `make SAN=1 check` runs them against an ASan+UBSan build in build-san/;
# `make torture [KILLS=30]` kills runs at random moments and resumes them;
# `make fuzz [FUZZ_TIME=60]` runs the libFuzzer targets (clang).

PREFIX	?= /usr/local
# libpq's, libarchive's, libseccomp's and libssl's headers are needed to
# build; the libraries are loaded (dlopen) only when a registry in
# PostgreSQL is opened (state/pg.c), when archives are read or written
# (cache/archive.c), when a build's sandbox is made (jail/seccomp.c) and
# when an https package store is reached (cache/tls.c): not linked.
# Nettle (libarchive's own dependency) is linked: every command hashes.
PKGS	= libarchive libevent sqlite3 libpq libseccomp nettle
LINK_PKGS = libevent sqlite3 nettle
CC	?= cc
CFLAGS	?= -O2 -g
WARN	= -Wall -Wextra -Werror
PKG_CFLAGS != pkg-config --cflags $(PKGS)
PKG_LIBS   != pkg-config --libs $(LINK_PKGS)
PKG_LIBS   += -ldl
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)

ifeq ($(FUZZ),1)
# libFuzzer targets (tests/fuzz): clang, ASan and UBSan, in build-fuzz/.
CC	= clang
BUILD	= build-fuzz
WARN	= -Wall -Wextra -Werror -Wno-unused-command-line-argument
ALL_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined
ALL_LDFLAGS += -fsanitize=fuzzer,address,undefined
BIN	= $(BUILD)/vjbuild
else ifeq ($(SAN),1)
BUILD	= build-san
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
ALL_LDFLAGS += -fsanitize=address,undefined
BIN	= $(BUILD)/vjbuild
else
BUILD	= build
BIN	= vjbuild
endif

LIB_SRCS = compat/os.c \
	util/util.c util/elf.c util/fs.c util/sha256.c util/heap.c util/json.c \
	conf/lines.c conf/valid.c conf/hosts.c conf/config.c conf/ports.c \
	conf/users.c conf/fleet.c \
	graph/graph.c \
	cache/archive.c cache/copy.c cache/gc.c cache/http.c cache/tls.c \
	state/sqlite.c state/records.c state/packages.c state/registry.c state/pg.c \
	state/claims.c \
	jail/jailconf.c jail/ns.c jail/run.c jail/init.c jail/userns.c \
	jail/run_freebsd.c jail/sandbox.c jail/seccomp.c \
	jail/ids.c jail/cgroup.c jail/net.c \
	tasks/root.c tasks/plan.c tasks/extract.c tasks/thin.c tasks/distribution.c \
	tasks/devfs.c tasks/hostconf.c tasks/jailconf.c tasks/port.c \
	tasks/install.c tasks/configure.c tasks/setup.c tasks/services.c \
	tasks/cert.c tasks/fleet.c \
	tasks/users.c tasks/register.c \
	tasks/cmd.c \
	sched/machine.c sched/loop.c sched/record.c sched/spawn.c \
	sched/jobserver.c sched/idle.c sched/logtail.c
CLI_SRCS = cli/args.c cli/help.c cli/common.c cli/progress.c cli/build.c \
	cli/adopt.c cli/status.c cli/graph.c cli/cache.c cli/jail.c \
	cli/destroy.c cli/runs.c cli/report.c cli/fleet.c cli/main.c
CLI_OBJS = $(CLI_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS = tests/unit/t.c tests/unit/test_util.c tests/unit/test_graph.c \
	tests/unit/test_conf.c tests/unit/test_sched.c tests/unit/test_state.c \
	tests/unit/test_http.c

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/%.o)
FUZZERS	  = hosts config recipe graph archive elf http
FUZZ_BINS = $(FUZZERS:%=build-fuzz/fuzz_%)
FUZZ_TIME ?= 60
DEPS	  = $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(CLI_OBJS:.o=.d) \
	$(SHA_BENCH_OBJS:.o=.d)

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libvj.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

$(BIN): $(CLI_OBJS) $(BUILD)/libvj.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libvj.a $(PKG_LIBS)

$(BUILD)/unit: $(TEST_OBJS) $(BUILD)/libvj.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJS) $(BUILD)/libvj.a $(PKG_LIBS)

SHA_BENCH_OBJS = $(BUILD)/bench/sha256/bench.o $(BUILD)/bench/sha256/old.o
$(BUILD)/bench-sha256: $(SHA_BENCH_OBJS) $(BUILD)/libvj.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(SHA_BENCH_OBJS) $(BUILD)/libvj.a $(PKG_LIBS)

check: $(BIN) $(BUILD)/unit
	VJBUILD=$(abspath $(BIN)) UNIT=$(abspath $(BUILD)/unit) \
	    SANITIZED=$(if $(filter 1,$(SAN)),1,0) bash tests/run.sh

# make fuzz [FUZZ_TIME=seconds]: each target for FUZZ_TIME seconds, from
# the seed corpus in tests/fuzz/corpus/NAME (kept); what it finds new goes
# to build-fuzz/corpus/NAME. A crash stops it, its input in build-fuzz/.
fuzz:
	$(MAKE) FUZZ=1 fuzzers
	@for f in $(FUZZERS); do \
		mkdir -p build-fuzz/corpus/$$f tests/fuzz/corpus/$$f; \
		echo "== fuzz_$$f for $(FUZZ_TIME)s"; \
		build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -max_len=65536 \
		    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		    -artifact_prefix=build-fuzz/crash-$$f- \
		    build-fuzz/corpus/$$f tests/fuzz/corpus/$$f \
		    2> build-fuzz/fuzz_$$f.log || \
		    { tail -40 build-fuzz/fuzz_$$f.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^Done' \
		    build-fuzz/fuzz_$$f.log | tr '\n' ' '; echo; \
	done

fuzzers: $(FUZZ_BINS)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(BUILD)/libvj.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libvj.a $(PKG_LIBS)

torture: $(BIN)
	VJBUILD=$(abspath $(BIN)) bash tests/torture.sh $(KILLS)

demo: $(BIN)
	bash examples/demo.sh

# The paper's stack for three customers (examples/hosting): hosting-demo
# builds it (cold: compiles Apache, ProFTPD, OpenSMTPD, Dovecot and mlmmj
# once, about 25 minutes here; warm: from the cache), starts it and shows a
# customer's day; hosting-test is tests/stack.py, every client check,
# restart and destroy, ending "N passed, N failed". Work and cache in
# $$HOSTING_WORK (default /var/tmp/vjbuild-hosting). As root.
hosting-demo: $(BIN)
	python3 examples/hosting/hosting.py demo
hosting-test: $(BIN)
	python3 tests/stack.py

# make bench: all of them (hours: Table 2's paper way compiles everything
# in every jail); each alone: bench-core (minutes, busybox base),
# bench-sched (about half an hour), bench-paper (hours; BENCH_WORK holds
# the sources, the base and the runs; PAPER_ARGS more options, e.g. the
# figures the issue asks for in alternated rounds: PAPER_ARGS="--only 2
# --ns 1,10 --a-ns 1 --b-ns none --jobserver-n none --t2-rounds 3"). Each
# prints its tables; the JSON and the chart go to BENCH_OUT.
BENCH_WORK = /var/tmp/vjbuild-paper
BENCH_OUT = bench-out
PAPER_ARGS =
bench: bench-core bench-sched bench-paper

# The fleet on this machine: one host, three alone, three sharing
# (nginx and PostgreSQL on loopback; about 8 minutes; docs/FLEET.md).
bench-fleet-hosts: $(BIN)
	python3 bench/fleet.py --vjbuild ./$(BIN) --out docs/bench/fleet-hosts.json

# The fleet of issue 18, simulated from recorded durations (docs/FLEET.md):
# the table, and its JSON and chart in BENCH_OUT. Seconds.
bench-fleet:
	mkdir -p $(BENCH_OUT)
	python3 bench/fleet_sim.py --input docs/bench/fleet-input.json \
	    --json $(BENCH_OUT)/fleet-sim.json --svg $(BENCH_OUT)/fleet-sim.svg

# vjbuild cold against a generated Makefile over the same ports, base
# and sandbox (bench/makefile.py; BENCH_WORK as bench-paper's; a cold run
# of the eight ports is about ten minutes here, two a round and N).
MAKEFILE_ARGS = --ns 1,3,10
bench-makefile: $(BIN)
	mkdir -p $(BENCH_OUT)
	VJBUILD=$(abspath $(BIN)) python3 bench/makefile.py --work $(BENCH_WORK) \
	    --json $(BENCH_OUT)/makefile.json $(MAKEFILE_ARGS)

# SHA-256: the library's against the hand-written code it replaced
# (bench/sha256; 512 MiB, five rounds, the order turned each round).
bench-sha256: $(BUILD)/bench-sha256
	$(BUILD)/bench-sha256 5

bench-core: $(BIN)
	bash bench/run.sh

bench-sched: $(BIN)
	mkdir -p $(BENCH_OUT)
	VJBUILD=$(abspath $(BIN)) python3 bench/sched.py \
	    --json $(BENCH_OUT)/sched.json

# What the isolation costs: a build and a jail start with the binary
# before it (BENCH_SANDBOX_WITHOUT, say one built from 9254409) and this
# one, rounds alternating.
BENCH_SANDBOX_WITHOUT =
bench-sandbox: $(BIN)
	@test -n "$(BENCH_SANDBOX_WITHOUT)" || { echo "set BENCH_SANDBOX_WITHOUT=a vjbuild binary to compare with"; exit 2; }
	python3 bench/sandbox.py $(BENCH_SANDBOX_WITHOUT) $(abspath $(BIN))

# The benchmark's eight Debian ports built into one jail by two binaries
# (PAPER_TREES="FIRST SECOND"), the trees compared (tests/paper_trees.py;
# about half an hour).
PAPER_TREES =
paper-trees:
	@test -n "$(PAPER_TREES)" || { echo "set PAPER_TREES=\"FIRST SECOND\" (two vjbuild binaries)"; exit 2; }
	python3 tests/paper_trees.py --work $(BENCH_WORK) --runs-of-first 2 $(PAPER_TREES)

bench-paper: $(BIN)
	mkdir -p $(BENCH_OUT)
	VJBUILD=$(abspath $(BIN)) python3 bench/paper.py --work $(BENCH_WORK) \
	    --json $(BENCH_OUT)/paper.json --svg $(BENCH_OUT)/table2.svg \
	    $(PAPER_ARGS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the manual,
# bash completion, and what starts the jails at boot: a systemd unit on
# Linux (PREFIX/lib/systemd/system; `systemctl enable vjbuild`), an rc.d
# script on FreeBSD (PREFIX/etc/rc.d; vjbuild_enable=YES). Both read
# SYSCONFDIR/vjbuild/vjbuild.conf.
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR	?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
SUBST	= sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/vjbuild
	install -m 0644 vjbuild.1 $(DESTDIR)$(PREFIX)/share/man/man1/vjbuild.1
	install -m 0644 dist/vjbuild.bash $(DESTDIR)$(COMPLETIONDIR)/vjbuild
	if [ "$$(uname -s)" = FreeBSD ]; then \
		install -d $(DESTDIR)$(PREFIX)/etc/rc.d && \
		$(SUBST) dist/vjbuild.rc.in > $(DESTDIR)$(PREFIX)/etc/rc.d/vjbuild && \
		chmod 0755 $(DESTDIR)$(PREFIX)/etc/rc.d/vjbuild; \
	else \
		install -d $(DESTDIR)$(UNITDIR) && \
		$(SUBST) dist/vjbuild.service.in > $(DESTDIR)$(UNITDIR)/vjbuild.service && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/vjbuild.service; \
	fi

# The Debian package (debian/): `make deb-test` builds it with
# dpkg-buildpackage -us -uc from a copy of the tree, installs it, checks
# it and removes it (as root; needs dpkg-dev and debhelper).
deb-test: $(BIN)
	VJBUILD=$(abspath $(BIN)) bash tests/deb.sh

clean:
	rm -rf build build-san build-fuzz vjbuild

.PHONY: deb-test all check torture fuzz fuzzers demo hosting-demo hosting-test bench bench-fleet bench-fleet-hosts bench-core bench-sched \
    bench-paper bench-sandbox paper-trees install clean

-include $(DEPS)
