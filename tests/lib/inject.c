/*
 * inject PID CASE [ARG]: make a running process execute one system call
 * of the test's choosing, as if its own code had been subverted into it,
 * and say what became of it.  tests/integration/19-sandbox.t uses it on
 * the real children of a real failoverd, so what is tested is the filter
 * each child really runs under, not a copy of it.
 *
 * The process is seized and interrupted (it sits in poll), its registers
 * are pointed at the `syscall` instruction it is stopped behind, the call
 * is stepped over, and then either seccomp refused it and forced a SIGSYS
 * on the process, which is let through (printed: "killed by signal N"
 * once it is dead), or the call returned (printed: "returned R"), in which
 * case the registers are put back, the interrupted poll returns EINTR, and
 * the process goes on.  x86-64 only.
 *
 * CASE: getpid (the control: allowed everywhere), execve, fork (clone as
 * glibc's fork makes it), ptrace (attach to ARG), open ("/" for reading),
 * kill (signal 0 to ARG), tiocsti (push a byte into fd 2), ifindex
 * (SIOCGIFINDEX of lo, as netd's if_nametoindex asks), sendfd (an IMSG_READY to the monitor on
 * fd 3 with fd 3 riding along).
 *
 * Exit 0 when it could say, 2 when it could not.
 */

#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <net/if.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(__x86_64__)
int
main(void)
{
	fprintf(stderr, "inject: x86-64 only\n");
	return (3);
}
#else

static pid_t	pid;

/* Copy len bytes to the tracee at addr, a word at a time. */
static void
poke(uint64_t addr, const void *buf, size_t len)
{
	uint64_t	 w;
	size_t		 i;

	for (i = 0; i < len; i += sizeof(w)) {
		w = 0;
		memcpy(&w, (const char *)buf + i,
		    len - i < sizeof(w) ? len - i : sizeof(w));
		if (ptrace(PTRACE_POKEDATA, pid, addr + i, w) == -1)
			err(2, "PTRACE_POKEDATA");
	}
}

/* Wait for the tracee; 1 stopped, 0 dead (printed). */
static int
wait_tracee(void)
{
	int	 st;

	if (waitpid(pid, &st, __WALL) == -1)
		err(2, "waitpid");
	if (WIFSIGNALED(st)) {
		printf("killed by signal %d\n", WTERMSIG(st));
		return (0);
	}
	if (WIFEXITED(st)) {
		printf("exited %d\n", WEXITSTATUS(st));
		return (0);
	}
	if (getenv("INJECT_DEBUG") != NULL)
		fprintf(stderr, "inject: stopped, status %#x\n", st);
	return (1);
}

/* A SIGSYS waits for the process (SigPnd of /proc/PID/status). */
static int
sigsys_pending(void)
{
	char		 path[64], line[256];
	FILE		*f;
	unsigned long long mask = 0, m;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		err(2, "%s", path);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "SigPnd: %llx", &m) == 1 ||
		    sscanf(line, "ShdPnd: %llx", &m) == 1)
			mask |= m;
	fclose(f);
	return ((mask & (1ULL << (SIGSYS - 1))) != 0);
}

/* Stopped behind a `syscall` instruction: its address. */
static uint64_t
stop_in_syscall(struct user_regs_struct *r)
{
	uint64_t	 w;
	int		 tries;

	for (tries = 0; tries < 50; tries++) {
		if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) == -1)
			err(2, "PTRACE_INTERRUPT");
		if (!wait_tracee())
			exit(2);
		if (ptrace(PTRACE_GETREGS, pid, 0, r) == -1)
			err(2, "PTRACE_GETREGS");
		errno = 0;
		w = ptrace(PTRACE_PEEKTEXT, pid, r->rip - 2, 0);
		if (errno == 0 && (w & 0xffff) == 0x050f)
			return (r->rip - 2);
		/* running its own code: let it get back to poll */
		if (ptrace(PTRACE_CONT, pid, 0, 0) == -1)
			err(2, "PTRACE_CONT");
		usleep(20000);
	}
	errx(2, "pid %d is never in a system call", pid);
}

int
main(int argc, char *argv[])
{
	struct user_regs_struct	 saved, r;
	const char		*what;
	uint64_t		 sc, scratch;
	long			 arg = 0;

	if (argc < 3)
		errx(2, "usage: inject PID CASE [ARG]");
	pid = atoi(argv[1]);
	what = argv[2];
	if (argc > 3)
		arg = atol(argv[3]);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) == -1)
		err(2, "PTRACE_SEIZE %d", pid);
	sc = stop_in_syscall(&saved);
	r = saved;
	/* well below the stack pointer, past the red zone */
	scratch = ((saved.rsp - 65536) & ~(uint64_t)63);
	r.rip = sc;
	r.orig_rax = -1;	/* not a call to restart */
	if (strcmp(what, "getpid") == 0) {
		r.rax = SYS_getpid;
	} else if (strcmp(what, "execve") == 0) {
		poke(scratch, "/bin/true", 10);
		r.rax = SYS_execve;
		r.rdi = scratch;
		r.rsi = 0;
		r.rdx = 0;
	} else if (strcmp(what, "fork") == 0) {
		r.rax = SYS_clone;
		r.rdi = SIGCHLD;
		r.rsi = 0;
		r.rdx = 0;
		r.r10 = 0;
		r.r8 = 0;
	} else if (strcmp(what, "ptrace") == 0) {
		r.rax = SYS_ptrace;
		r.rdi = PTRACE_ATTACH;
		r.rsi = arg;
		r.rdx = 0;
		r.r10 = 0;
	} else if (strcmp(what, "open") == 0) {
		poke(scratch, "/", 2);
		r.rax = SYS_openat;
		r.rdi = (uint64_t)AT_FDCWD;
		r.rsi = scratch;
		r.rdx = O_RDONLY;
		r.r10 = 0;
	} else if (strcmp(what, "kill") == 0) {
		r.rax = SYS_kill;
		r.rdi = arg;
		r.rsi = 0;
	} else if (strcmp(what, "tiocsti") == 0) {
		poke(scratch, "x", 2);
		r.rax = SYS_ioctl;
		r.rdi = 2;
		r.rsi = TIOCSTI;
		r.rdx = scratch;
	} else if (strcmp(what, "ifindex") == 0) {
		struct ifreq	 ifr;

		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "lo");
		poke(scratch, &ifr, sizeof(ifr));
		r.rax = SYS_ioctl;
		r.rdi = 3;
		r.rsi = SIOCGIFINDEX;
		r.rdx = scratch;
	} else if (strcmp(what, "sendfd") == 0) {
		/* struct imsg_hdr {type, len | IMSG_FD_MARK, peerid, pid} */
		uint32_t	 hdr[4] = { 1, 16 | 0x80000000U, 0, 0 };
		struct {
			struct msghdr	 m;
			struct iovec	 iov;
			union {
				struct cmsghdr	 h;
				char		 b[CMSG_SPACE(sizeof(int))];
			}		 c;
		}		 s;
		uint64_t	 base = scratch + 256;
		int		 fd = 3;

		memset(&s, 0, sizeof(s));
		s.iov.iov_base = (void *)scratch;
		s.iov.iov_len = sizeof(hdr);
		s.m.msg_iov = (void *)(base + offsetof(__typeof__(s), iov));
		s.m.msg_iovlen = 1;
		s.m.msg_control = (void *)(base + offsetof(__typeof__(s), c));
		s.m.msg_controllen = sizeof(s.c.b);
		s.c.h.cmsg_len = CMSG_LEN(sizeof(int));
		s.c.h.cmsg_level = SOL_SOCKET;
		s.c.h.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&s.c.h), &fd, sizeof(fd));
		poke(scratch, hdr, sizeof(hdr));
		poke(base, &s, sizeof(s));
		r.rax = SYS_sendmsg;
		r.rdi = 3;
		r.rsi = base;
		r.rdx = 0;
	} else
		errx(2, "unknown case %s", what);
	if (ptrace(PTRACE_SETREGS, pid, 0, &r) == -1)
		err(2, "PTRACE_SETREGS");
	/* to the call's entry, then past it */
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) == -1)
		err(2, "PTRACE_SYSCALL");
	if (!wait_tracee())
		return (0);
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) == -1)
		err(2, "PTRACE_SYSCALL");
	if (!wait_tracee())
		return (0);
	if (sigsys_pending()) {
		/* seccomp refused the call and forced SIGSYS on the process:
		 * let it be delivered, and see the end */
		if (ptrace(PTRACE_CONT, pid, 0, 0) == -1)
			err(2, "PTRACE_CONT");
		while (wait_tracee())
			if (ptrace(PTRACE_CONT, pid, 0, SIGSYS) == -1)
				err(2, "PTRACE_CONT");
		return (0);
	}
	if (ptrace(PTRACE_GETREGS, pid, 0, &r) == -1)
		err(2, "PTRACE_GETREGS");
	printf("returned %lld\n", (long long)r.rax);
	/* back where it was; the poll it was in returns EINTR */
	saved.rax = -EINTR;
	saved.orig_rax = -1;
	if (ptrace(PTRACE_SETREGS, pid, 0, &saved) == -1)
		err(2, "PTRACE_SETREGS");
	if (ptrace(PTRACE_DETACH, pid, 0, 0) == -1)
		err(2, "PTRACE_DETACH");
	return (0);
}
#endif
