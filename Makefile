# failoverd: a hot-standby failover engine.  See README.md.

VERSION =	0.9.0
PREFIX ?=	/usr/local
SBINDIR ?=	$(PREFIX)/sbin
MANDIR ?=	$(PREFIX)/share/man
EXAMPLEDIR ?=	$(PREFIX)/share/examples/failoverd
# systemd reads units, sysusers.d and tmpfiles.d under /usr/local/lib too
UNITDIR ?=	$(PREFIX)/lib/systemd/system
SYSUSERSDIR ?=	$(PREFIX)/lib/sysusers.d
TMPFILESDIR ?=	$(PREFIX)/lib/tmpfiles.d
DESTDIR ?=
# WERROR=0 for packagers: a new compiler's new warning does not stop a build
WERROR ?=	1

CC ?=		cc
YACC ?=		byacc
PKG_CONFIG ?=	pkg-config
PKGS =		libpq libsodium libbsd-overlay libnl-3.0 libnl-route-3.0 libseccomp

B =		build
CFLAGS ?=	-O2 -g
# each directory sees only common/ and itself (added per object below)
CFLAGS +=	-Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -std=gnu11 \
		-D_GNU_SOURCE -Icommon -DFO_VERSION='"$(VERSION)"'
CFLAGS +=	$(shell $(PKG_CONFIG) --cflags $(PKGS))
LDLIBS +=	$(shell $(PKG_CONFIG) --libs $(PKGS))
ifeq ($(SANITIZE),1)
CFLAGS +=	-fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=undefined -DFO_SANITIZE
LDFLAGS +=	-fsanitize=address,undefined
O =		$(B)/obj-san
else
O =		$(B)/obj
endif
ifeq ($(SECCOMP_DEBUG),1)
CFLAGS +=	-DSECCOMP_DEBUG
endif
# for make valgrind only: valgrind 3.19 knows neither seccomp(2) nor
# openat2(2), so this build loads no seccomp filter and opens beneath a
# directory with openat and O_NOFOLLOW: for the tests, never to install
# (only from the command line: a VALGRIND in the environment is ignored)
ifeq ($(origin VALGRIND)$(VALGRIND),command line1)
CFLAGS +=	-DFO_VALGRIND
endif

COMMON =	common/imsg.c common/log.c common/proc.c common/sandbox.c \
		common/timer.c common/util.c
MONITOR =	monitor/monitor.c monitor/role.c monitor/config.c \
		monitor/printconf.c monitor/control.c monitor/ctl.c \
		monitor/hooks.c monitor/alert.c monitor/notify.c
HEARTBEATD =	heartbeatd/heartbeatd.c heartbeatd/lease.c \
		heartbeatd/lease_ctl.c heartbeatd/rank.c heartbeatd/db.c
NETD =		netd/netd.c netd/vip.c netd/arp.c netd/link.c
DNSD =		dnsd/dnsd.c dnsd/dns.c
SYNCD =		syncd/syncd.c syncd/conn.c syncd/send.c syncd/recv.c \
		syncd/noise.c syncd/apply.c syncd/wire.c syncd/scan.c \
		syncd/session.c syncd/proto.c syncd/plan.c
SRCS =		$(COMMON) $(MONITOR) $(HEARTBEATD) $(NETD) $(DNSD) $(SYNCD)
OBJS =		$(SRCS:%.c=$(O)/%.o) $(O)/parse.o
UNIT =		$(B)/tests/imsg_test $(B)/tests/timer_test $(B)/tests/netd_test \
		$(B)/tests/noise_test $(B)/tests/apply_test $(B)/tests/wire_test \
		$(B)/tests/scan_test $(B)/tests/session_test $(B)/tests/proto_test \
		$(B)/tests/plan_test $(B)/tests/dns_test $(B)/tests/lease_test
MANS =		monitor/failoverd.8 monitor/failoverctl.8 conf/failoverd.conf.5

all: $(B)/failoverd $(B)/failoverctl

# relink when the flavour (SANITIZE, SECCOMP_DEBUG) changes
$(B)/flags: FORCE
	@mkdir -p $(B)
	@echo '$(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CFLAGS) $(LDFLAGS)' > $@

$(B)/failoverd: $(OBJS) $(B)/flags
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(B)/failoverctl: $(B)/failoverd
	ln -f $(B)/failoverd $@

# the DDL heartbeatd runs when it may: schema.sql up to its GRANTs
$(B)/heartbeatd/schema.h: heartbeatd/schema.sql
	@mkdir -p $(@D)
	sed '/^GRANT/,$$d; /^--/d; /^$$/d' heartbeatd/schema.sql | \
	    awk 'BEGIN { print "static const char schema_sql[] =" } \
	    { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); \
	    printf "    \"%s\\n\"\n", $$0 } END { print ";" }' > $@

$(O)/heartbeatd/db.o: $(B)/heartbeatd/schema.h
$(O)/heartbeatd/db.o: CFLAGS += -I$(B)/heartbeatd

$(B)/parse.c: monitor/parse.y
	@mkdir -p $(B)
	$(YACC) -o $@ monitor/parse.y

$(O)/parse.o: $(B)/parse.c $(B)/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Imonitor -Wno-unused-but-set-variable -c -o $@ \
	    $(B)/parse.c

$(O)/%.o: %.c $(B)/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I$(<D) -MMD -MP -c -o $@ $<

COMMON_OBJS =	$(COMMON:%.c=$(O)/%.o)

# a unit test links the objects it tests
imsg_test_OBJS =	$(COMMON_OBJS)
timer_test_OBJS =	$(COMMON_OBJS)
netd_test_OBJS =	$(COMMON_OBJS)
noise_test_OBJS =	$(O)/syncd/noise.o
apply_test_OBJS =	$(O)/syncd/apply.o
wire_test_OBJS =	$(O)/syncd/wire.o
scan_test_OBJS =	$(O)/syncd/scan.o
session_test_OBJS =	$(O)/syncd/session.o $(O)/syncd/noise.o $(O)/syncd/wire.o
proto_test_OBJS =	$(O)/syncd/proto.o $(O)/syncd/apply.o
plan_test_OBJS =	$(O)/syncd/plan.o $(O)/syncd/scan.o
dns_test_OBJS =		$(O)/dnsd/dns.o
lease_test_OBJS =	$(O)/heartbeatd/lease.o $(O)/heartbeatd/lease_ctl.o \
			$(O)/heartbeatd/rank.o $(O)/common/log.o \
			$(O)/common/util.o
# and sees the headers of its directory only
noise_test_DIR =	syncd
apply_test_DIR =	syncd
wire_test_DIR =	syncd
scan_test_DIR =	syncd
session_test_DIR =	syncd
proto_test_DIR =	syncd
plan_test_DIR =	syncd
netd_test_DIR =	netd
dns_test_DIR =	dnsd
lease_test_DIR =	heartbeatd

# a hostile sync peer for the integration tests (tests/lib/hostile_peer.c)
HOSTILE_OBJS =	$(O)/syncd/session.o $(O)/syncd/noise.o $(O)/syncd/wire.o \
		$(O)/syncd/proto.o $(O)/syncd/apply.o $(O)/common/util.o \
		$(O)/common/log.o
$(B)/tests/hostile_peer: tests/lib/hostile_peer.c $(HOSTILE_OBJS) $(B)/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isyncd $(LDFLAGS) -o $@ $< $(HOSTILE_OBJS) $(LDLIBS)

# a system call injected into a running child (tests/lib/inject.c)
$(B)/tests/inject: tests/lib/inject.c $(B)/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

.SECONDEXPANSION:
$(B)/tests/%: tests/unit/%.c tests/unit/tap.h $$($$*_OBJS) $(B)/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(if $($*_DIR),-I$($*_DIR)) $(LDFLAGS) \
	    -o $@ $< $($*_OBJS) $(LDLIBS)

-include $(SRCS:%.c=$(O)/%.d)

# Debian packages for the build, the tests and the demo; the system user.
DEPS_PKGS =	build-essential pkg-config byacc libpq-dev libsodium-dev \
		libbsd-dev libnl-3-dev libnl-route-3-dev libseccomp-dev \
		mandoc iproute2 nftables arping tcpdump iputils-ping postgresql \
		bind9 bind9-dnsutils perl python3 util-linux procps \
		keepalived rsync openssh-server openssh-client clang \
		libclang-rt-dev spin strace valgrind \
		debhelper lintian fakeroot openssl systemd stress-ng
deps:
	@test "$$(id -u)" = 0 || { echo "make deps: run as root" >&2; exit 1; }
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEPS_PKGS)
	getent passwd _failoverd >/dev/null || \
	    useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin --user-group _failoverd

install: all
	@! grep -q FO_VALGRIND $(B)/flags || { echo "make install: $(B) is a \
	    build for valgrind (VALGRIND=1), not to install: make clean all" >&2; exit 1; }
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(EXAMPLEDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0555 $(B)/failoverd $(DESTDIR)$(SBINDIR)/failoverd
	ln -f $(DESTDIR)$(SBINDIR)/failoverd $(DESTDIR)$(SBINDIR)/failoverctl
	install -m 0444 monitor/failoverd.8 monitor/failoverctl.8 \
	    $(DESTDIR)$(MANDIR)/man8/
	install -m 0444 conf/failoverd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0444 conf/failoverd.conf heartbeatd/schema.sql \
	    $(DESTDIR)$(EXAMPLEDIR)/
	sed 's,@SBINDIR@,$(SBINDIR),g' conf/failoverd.service > \
	    $(DESTDIR)$(UNITDIR)/failoverd.service
	chmod 0444 $(DESTDIR)$(UNITDIR)/failoverd.service
	install -m 0444 conf/failoverd.sysusers $(DESTDIR)$(SYSUSERSDIR)/failoverd.conf
	install -m 0444 conf/failoverd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/failoverd.conf
	@# on this machine (no DESTDIR), as root: the user the children run as
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
	    ! getent passwd _failoverd >/dev/null; then \
		echo "creating the user _failoverd"; \
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin --user-group _failoverd; \
	fi

# what install wrote; the _failoverd user and /etc/failoverd* stay
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/failoverd $(DESTDIR)$(SBINDIR)/failoverctl \
	    $(DESTDIR)$(MANDIR)/man8/failoverd.8 \
	    $(DESTDIR)$(MANDIR)/man8/failoverctl.8 \
	    $(DESTDIR)$(MANDIR)/man5/failoverd.conf.5 \
	    $(DESTDIR)$(EXAMPLEDIR)/failoverd.conf \
	    $(DESTDIR)$(EXAMPLEDIR)/schema.sql \
	    $(DESTDIR)$(UNITDIR)/failoverd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/failoverd.conf \
	    $(DESTDIR)$(TMPFILESDIR)/failoverd.conf
	-rmdir $(DESTDIR)$(EXAMPLEDIR) 2>/dev/null

# what needs no root: the unit tests, the configuration regress, the manual
check-unit: all $(UNIT)
	prove -v tests/unit/*.t tests/config/*.t tests/man/*.t tests/model/*.t \
	    tests/chaos/check.t

check: all $(UNIT) $(B)/tests/hostile_peer $(B)/tests/inject fuzz-build
	@test "$$(id -u)" = 0 || { echo "make check: run as root (sudo make check)" >&2; exit 1; }
	prove -v tests/unit/*.t tests/config/*.t tests/man/*.t tests/model/*.t \
	    tests/chaos/check.t tests/fuzz/*.t tests/integration/*.t

# the unit tests, the configuration regress and one integration test
# under ASan and UBSan (CI runs it before make check, which rebuilds)
check-sanitize:
	@test "$$(id -u)" = 0 || { echo "make check-sanitize: run as root" >&2; exit 1; }
	$(MAKE) SANITIZE=1 all $(UNIT) $(B)/tests/hostile_peer
	prove -v tests/unit/*.t tests/config/*.t tests/integration/05-sync.t

# the lease model's configurations too large for make check (minutes)
model-long:
	MODEL_LONG=1 MODEL_MEM=12000 prove -v tests/model/model.t

# what the tests need built, for a copy that tests/mutants/run patches
test-build: all $(UNIT) $(B)/tests/hostile_peer $(B)/tests/inject

# each mutant of tests/mutants in a copy of the tree: the tests it names
# must fail (tens of minutes; not part of make check)
mutate:
	@test "$$(id -u)" = 0 || { echo "make mutate: run as root" >&2; exit 1; }
	tests/mutants/run

# the fault matrix with its invariant checker (about 25 minutes); the
# integration tests that repeat their faults with CHAOS=1 are
# make chaos-long
chaos: all
	@test "$$(id -u)" = 0 || { echo "make chaos: run as root" >&2; exit 1; }
	prove -v tests/chaos/matrix.t

chaos-long: all
	CHAOS=1 prove -v tests/integration/*.t

# the daemon under valgrind memcheck: start, takeover, sync, switchover,
# stop; in a build of its own, $(B)/vg, made for valgrind (VALGRIND=1)
valgrind:
	@test "$$(id -u)" = 0 || { echo "make valgrind: run as root" >&2; exit 1; }
	$(MAKE) B=$(B)/vg VALGRIND=1 all
	prove -v tests/valgrind/memcheck.t

bench: all
	@test "$$(id -u)" = 0 || { echo "make bench: run as root" >&2; exit 1; }
	@for b in tests/bench/*.sh; do [ -x "$$b" ] && "$$b"; done; true

# install what is missing first, so a fresh machine needs only this
demo:
	@test "$$(id -u)" = 0 || { echo "make demo: run as root (sudo make demo)" >&2; exit 1; }
	@{ getent passwd _failoverd && command -v nft && command -v nsenter && \
	    command -v byacc && pkg-config --exists libnl-route-3.0 libseccomp && \
	    ls /usr/lib/postgresql/*/bin/postgres; } >/dev/null 2>&1 || $(MAKE) deps
	$(MAKE) all
	tests/demo.sh

clean:
	rm -rf $(B)

FORCE:

# libFuzzer targets (tests/fuzz), each run FUZZ_SECONDS by make fuzz; make
# check runs each a few seconds (tests/fuzz/fuzz.t).  Needs clang.
FUZZ_SECONDS ?=	60
FUZZERS =	dns proto config imsg session
FUZZ_BINS =	$(FUZZERS:%=$(B)/fuzz/fuzz_%)
FUZZ_CFLAGS =	-g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
		-D_GNU_SOURCE -Icommon -isystem /usr/include/bsd \
		-DLIBBSD_OVERLAY -I/usr/include/postgresql -I/usr/include/libnl3
FUZZ_dns =	dnsd/dns.c
FUZZ_proto =	syncd/proto.c syncd/apply.c
FUZZ_config =	$(B)/parse.c monitor/config.c monitor/printconf.c \
		common/util.c common/log.c
FUZZ_imsg =	common/imsg.c
FUZZ_session =	syncd/session.c syncd/noise.c syncd/wire.c
FUZZ_INC_dns =	-Idnsd
FUZZ_INC_proto = -Isyncd
FUZZ_INC_session = -Isyncd
FUZZ_INC_config = -Imonitor -Wno-unused-but-set-variable
FUZZ_LIBS =	-lsodium -lbsd -lpq

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_$$*) $(wildcard common/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $(FUZZ_INC_$*) -o $@ $< $(FUZZ_$*) $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@for f in $(FUZZERS); do \
		mkdir -p $(B)/fuzz/corpus-$$f; \
		echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
		ASAN_OPTIONS=detect_leaks=$$([ $$f = config ] && echo 0 || echo 1) \
		$(B)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
		    $$([ $$f = config ] && echo -detect_leaks=0) \
		    -print_final_stats=1 $(B)/fuzz/corpus-$$f \
		    tests/fuzz/seed-$$f > $(B)/fuzz/fuzz_$$f.log 2>&1 || \
		    { tail -40 $(B)/fuzz/fuzz_$$f.log; exit 1; }; \
		grep -h "cov:" $(B)/fuzz/fuzz_$$f.log | tail -1; \
		grep -h "stat::number_of_executed_units" $(B)/fuzz/fuzz_$$f.log; \
	done

.PHONY: all deps install uninstall check check-sanitize model-long test-build mutate chaos chaos-long valgrind bench demo clean fuzz fuzz-build FORCE
