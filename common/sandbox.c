/*
 * seccomp: each child gets an allow-list and is killed on anything else.
 * Build with SECCOMP_DEBUG=1 to have a forbidden call logged (SIGSYS)
 * instead; sanitizer builds log through the audit log and go on, since
 * the sanitizer runtimes make calls no production process does.  The
 * valgrind build (VALGRIND=1) loads no filter: valgrind cannot run one.
 */

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/landlock.h>

#include <errno.h>
#include <net/if.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "log.h"
#include "sandbox.h"

#define SC(name)	SCMP_SYS(name)

/* what every child needs: imsg, timers, memory, logging, exit */
static const int sc_common[] = {
	SC(read), SC(write), SC(readv), SC(writev), SC(close), SC(poll),
	SC(ppoll), SC(recvmsg), SC(sendmsg), SC(recvfrom), SC(sendto),
	SC(exit), SC(exit_group), SC(brk), SC(mmap), SC(munmap), SC(mremap),
	SC(madvise), SC(mprotect), SC(rt_sigaction), SC(rt_sigprocmask),
	SC(rt_sigreturn), SC(sigaltstack), SC(clock_gettime),
	SC(clock_nanosleep), SC(nanosleep), SC(gettimeofday),
	SC(timerfd_create), SC(timerfd_settime), SC(timerfd_gettime),
	SC(getpid), SC(gettid), SC(getrandom), SC(fcntl), SC(fstat),
	SC(newfstatat), SC(lseek), SC(futex), SC(restart_syscall),
	SC(getuid), SC(geteuid), SC(getgid), SC(getegid), SC(pipe2),
};

/* libpq: TCP or unix sockets, resolver and certificate files */
static const int sc_heartbeat[] = {
	SC(socket), SC(connect), SC(getsockopt), SC(setsockopt),
	SC(getsockname), SC(getpeername), SC(openat), SC(uname),
	SC(shutdown), SC(statx), SC(access), SC(faccessat), SC(faccessat2),
	SC(getdents64), SC(epoll_create1), SC(epoll_ctl),
	SC(epoll_wait), SC(eventfd2),
	SC(sysinfo),	/* OpenSSL, for sslmode: glibc qsort asks it */
};

/* netlink, packet and raw ICMPv6 sockets */
static const int sc_net[] = {
	SC(socket), SC(bind), SC(setsockopt), SC(getsockopt),
	SC(getsockname), SC(connect),
};

/*
 * ioctl only with the requests a process makes: netd's interface index
 * (if_nametoindex) and hardware address, heartbeatd's interface index
 * (libpq resolving a scoped IPv6 address), and nothing for the others
 * (not even TCGETS: no child writes to a terminal through stdio).  TIOCSTI,
 * which pushes keystrokes into a terminal, is on no list.
 */
static const unsigned long ioc_net[] = { SIOCGIFINDEX, SIOCGIFHWADDR };
/* libpq's getaddrinfo of a scoped IPv6 host ("fe80::1%eth0") */
static const unsigned long ioc_heartbeat[] = { SIOCGIFINDEX };

/* one UDP or TCP socket to the DNS server at a time */
static const int sc_dns[] = {
	SC(socket), SC(connect), SC(getsockopt), SC(shutdown),
};

/* TCP to the peers, file trees under its directory fds, inotify */
static const int sc_sync[] = {
	SC(socket), SC(bind), SC(listen), SC(accept4), SC(connect),
	SC(setsockopt), SC(getsockopt), SC(getsockname), SC(getpeername),
	SC(shutdown), SC(openat), SC(openat2), SC(mkdirat), SC(unlinkat),
	SC(renameat), SC(renameat2), SC(fchmod), SC(fchmodat),
	SC(utimensat), SC(fsync), SC(fdatasync), SC(syncfs), SC(ftruncate),
	SC(fallocate), SC(getdents64), SC(statx), SC(readlinkat),
	SC(symlinkat), SC(linkat), SC(inotify_init1), SC(inotify_add_watch),
	SC(inotify_rm_watch), SC(pread64), SC(pwrite64), SC(fstatfs),
	SC(dup), SC(dup3), SC(copy_file_range), SC(fchdir), SC(faccessat),
	SC(faccessat2), SC(sync_file_range), SC(sysinfo),	/* glibc qsort asks for the memory size */
};

#ifdef SECCOMP_DEBUG
static void
sandbox_sigsys(int sig, siginfo_t *info, void *ctx)
{
	char	 buf[80];
	int	 n;

	(void)sig;
	(void)ctx;
	n = snprintf(buf, sizeof(buf), "seccomp: forbidden syscall %d\n",
	    info->si_syscall);
	if (n > 0)
		(void)write(STDERR_FILENO, buf, n);
	_exit(1);
}
#endif

static void
sandbox_allow_ioctl(scmp_filter_ctx ctx, const unsigned long *list, size_t n)
{
	size_t	 i;
	int	 rc;

	/* the kernel takes the request as an unsigned int */
	for (i = 0; i < n; i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SC(ioctl), 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, list[i]))))
			fatalx("seccomp_rule_add ioctl %#lx: %s", list[i],
			    strerror(-rc));
}

static void
sandbox_allow(scmp_filter_ctx ctx, const int *list, size_t n)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++) {
		if (list[i] < 0)	/* not on this architecture */
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, list[i], 0)))
			fatalx("seccomp_rule_add %d: %s", list[i],
			    strerror(-rc));
	}
}

void
sandbox_seccomp(enum proc_id id)
{
	scmp_filter_ctx	 ctx;
	uint32_t	 dflt = SCMP_ACT_KILL_PROCESS;
	pid_t		 self = getpid();
	int		 rc;

#if defined(SECCOMP_DEBUG)
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction");
	dflt = SCMP_ACT_TRAP;
#elif defined(FO_SANITIZE)
	dflt = SCMP_ACT_LOG;
#endif
#ifdef FO_VALGRIND
	log_warnx("seccomp: no filter in this build for valgrind");
	return;
#endif
	if ((ctx = seccomp_init(dflt)) == NULL)
		fatalx("seccomp_init");
	sandbox_allow(ctx, sc_common, sizeof(sc_common) / sizeof(int));
	switch (id) {
	case PROC_HEARTBEAT:
		sandbox_allow(ctx, sc_heartbeat,
		    sizeof(sc_heartbeat) / sizeof(int));
		sandbox_allow_ioctl(ctx, ioc_heartbeat, sizeof(ioc_heartbeat) /
		    sizeof(ioc_heartbeat[0]));
		break;
	case PROC_NET:
		sandbox_allow(ctx, sc_net, sizeof(sc_net) / sizeof(int));
		sandbox_allow_ioctl(ctx, ioc_net, sizeof(ioc_net) /
		    sizeof(ioc_net[0]));
		break;
	case PROC_DNS:
		sandbox_allow(ctx, sc_dns, sizeof(sc_dns) / sizeof(int));
		break;
	case PROC_SYNC:
		sandbox_allow(ctx, sc_sync, sizeof(sc_sync) / sizeof(int));
		break;
	default:
		fatalx("%s: no filter for %s", __func__, proc_name(id));
	}
	/* a child may signal only itself */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SC(kill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self))) ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SC(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self))))
		fatalx("seccomp_rule_add kill: %s", strerror(-rc));
	if ((rc = seccomp_load(ctx)) != 0)
		fatalx("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
}

/*
 * Landlock: allow file access only beneath the given directory fds.
 * Returns -1 (after one warning) when the kernel has no Landlock.
 */
int
sandbox_landlock(const int *fds, size_t n)
{
	struct landlock_ruleset_attr	 attr;
	struct landlock_path_beneath_attr pb;
	uint64_t			 fs;
	size_t				 i;
	int				 abi, rfd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_warnx("kernel without Landlock: syncd is confined by "
		    "seccomp only");
		return (-1);
	}
	fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	    LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	    LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	    LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = fs;
	rfd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rfd == -1)
		fatal("landlock_create_ruleset");
	for (i = 0; i < n; i++) {
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = fs & ~(LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO);
		pb.parent_fd = fds[i];
		if (syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
			fatal("landlock_add_rule");
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		fatal("landlock_restrict_self");
	close(rfd);
	return (0);
}
