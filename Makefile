# SPDX-License-Identifier: BSD-2-Clause
# vjbuild. `make` builds ./vjbuild; `make check` runs the tests;
# `make SAN=1 check` runs them against an ASan+UBSan build in build-san/;
# `make torture [KILLS=30]` kills runs at random moments and resumes them.

PREFIX	?= /usr/local
PKGS	= libarchive libevent sqlite3 libpq
CC	?= cc
CFLAGS	?= -O2 -g
WARN	= -Wall -Wextra -Werror
PKG_CFLAGS != pkg-config --cflags $(PKGS)
PKG_LIBS   != pkg-config --libs $(PKGS)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)

ifeq ($(SAN),1)
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
	util/util.c util/fs.c util/sha256.c util/heap.c \
	conf/lines.c conf/valid.c conf/hosts.c conf/config.c conf/ports.c \
	conf/users.c \
	graph/graph.c \
	cache/archive.c \
	state/sqlite.c state/registry.c state/pg.c \
	jail/jailconf.c jail/ns.c jail/run.c \
	tasks/root.c tasks/plan.c tasks/extract.c tasks/distribution.c \
	tasks/devfs.c tasks/hostconf.c tasks/jailconf.c tasks/port.c \
	tasks/install.c tasks/configure.c tasks/users.c tasks/register.c \
	tasks/cmd.c \
	sched/machine.c sched/loop.c
TEST_SRCS = tests/unit/t.c tests/unit/test_util.c tests/unit/test_graph.c \
	tests/unit/test_conf.c tests/unit/test_sched.c tests/unit/test_state.c

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/%.o)
DEPS	  = $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/main.d

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libvj.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

$(BIN): $(BUILD)/main.o $(BUILD)/libvj.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(BUILD)/main.o $(BUILD)/libvj.a $(PKG_LIBS)

$(BUILD)/unit: $(TEST_OBJS) $(BUILD)/libvj.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(TEST_OBJS) $(BUILD)/libvj.a $(PKG_LIBS)

check: $(BIN) $(BUILD)/unit
	VJBUILD=$(abspath $(BIN)) UNIT=$(abspath $(BUILD)/unit) \
	    SANITIZED=$(if $(filter 1,$(SAN)),1,0) bash tests/run.sh

torture: $(BIN)
	VJBUILD=$(abspath $(BIN)) bash tests/torture.sh $(KILLS)

demo: $(BIN)
	bash examples/demo.sh

bench: $(BIN)
	bash bench/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/vjbuild
	install -m 0644 vjbuild.1 $(DESTDIR)$(PREFIX)/share/man/man1/vjbuild.1

clean:
	rm -rf build build-san vjbuild

.PHONY: all check torture demo bench install clean

-include $(DEPS)
