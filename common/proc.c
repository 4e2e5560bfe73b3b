/*
 * Children are fork+exec'd copies of failoverd ("failoverd -P NAME") with
 * their socket to the monitor on fd 3, nothing else open but stdio, and
 * an empty environment, so each gets a fresh address space.  Each starts
 * a session of its own with standard input on /dev/null and a terminal
 * on standard output or error reopened for writing only: under -d the
 * monitor's terminal is a root shell's, and a child must not be able to
 * read it or push keystrokes into it (TIOCSTI) even before seccomp.  A child's
 * loop polls that socket through proc_pollfd() and proc_pollio().
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"

static const char *proc_names[PROC_MAX] = {
	[PROC_MONITOR] = "monitor",
	[PROC_HEARTBEAT] = "heartbeatd",
	[PROC_SYNC] = "syncd",
	[PROC_NET] = "netd",
	[PROC_DNS] = "dnsd",
};

const char *
proc_name(enum proc_id id)
{
	if (id >= PROC_MAX)
		return ("unknown");
	return (proc_names[id]);
}

int
proc_byname(const char *name)
{
	int	 i;

	for (i = PROC_MONITOR + 1; i < PROC_MAX; i++)
		if (strcmp(proc_names[i], name) == 0)
			return (i);
	return (-1);
}

/*
 * A terminal on fd (under -d, the shell's) is opened again for writing
 * only, so the child can log to it but not read what is typed there;
 * O_NOCTTY, so it does not become the new session's terminal.
 */
static void
tty_write_only(int fd)
{
	char	 path[32];
	int	 w;

	if (!isatty(fd))
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((w = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)) == -1)
		fatal("%s", path);
	if (dup2(w, fd) == -1)
		fatal("dup2");
	close(w);
}

/*
 * Start child id from the executable at path; *fdp gets the monitor's end
 * of the socketpair (non-blocking).
 */
pid_t
proc_exec(enum proc_id id, const char *path, int debug, int verbose, int *fdp)
{
	char		*argv[8], *envp[1] = { NULL };
	sigset_t	 none;
	pid_t		 pid;
	int		 sp[2], argc = 0, flags, null;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(sp[1]);
		if ((flags = fcntl(sp[0], F_GETFL)) == -1 ||
		    fcntl(sp[0], F_SETFL, flags | O_NONBLOCK) == -1)
			fatal("fcntl");
		*fdp = sp[0];
		return (pid);
	}

	if (sp[1] == CHILD_FD) {
		if (fcntl(sp[1], F_SETFD, 0) == -1)
			fatal("fcntl");
	} else if (dup2(sp[1], CHILD_FD) == -1)
		fatal("dup2");
	closefrom(CHILD_FD + 1);
	if (setsid() == -1)
		fatal("setsid");
	if ((null = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(null, STDIN_FILENO) == -1)
		fatal("/dev/null");
	if (null != STDIN_FILENO)
		close(null);
	tty_write_only(STDOUT_FILENO);
	tty_write_only(STDERR_FILENO);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	argv[argc++] = "failoverd";
	argv[argc++] = "-P";
	argv[argc++] = (char *)proc_name(id);
	if (debug)
		argv[argc++] = "-d";
	if (verbose > 0)
		argv[argc++] = "-v";
	if (verbose > 1)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	execve(path, argv, envp);
	fatal("execve %s", path);
}

static int
capset_keep(uint64_t keep)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	data[0].effective = data[0].permitted = keep & 0xffffffff;
	data[1].effective = data[1].permitted = keep >> 32;
	return (syscall(SYS_capset, &hdr, data));
}

/*
 * The privilege drop of failoverd(8), in its order: chroot,
 * process title, bounding set, keepcaps, ids, kept capabilities,
 * no_new_privs.  Landlock and seccomp follow in the caller.
 */
void
proc_drop(enum proc_id id, const char *user, const char *root, uint64_t keep)
{
	struct passwd	*pw;
	gid_t		 gid;
	uid_t		 uid;
	int		 cap;

	/* only the monitor orchestrates a shutdown: it closes our socket */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user %s", user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx("user %s must not be root", user);

	if (root != NULL) {
		if (chroot(root) == -1)
			fatal("chroot %s", root);
		if (chdir("/") == -1)
			fatal("chdir /");
	}
	setproctitle("%s", proc_name(id));

	for (cap = 0; cap < 64; cap++) {
		if (keep & CAPBIT(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			fatal("PR_CAPBSET_DROP %d", cap);
	}
	if (keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");

	if (setgroups(1, &gid) == -1)
		fatal("setgroups");
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid");
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid");

	if (keep != 0) {
		if (capset_keep(keep) == -1)
			fatal("capset");
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
			fatal("PR_SET_KEEPCAPS");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("PR_CAP_AMBIENT_CLEAR_ALL");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");

	/* a process that could regain root is a bug, not a configuration */
	if (setresuid(0, 0, 0) != -1)
		fatalx("%s: could regain root", __func__);
}

/* A child whose socket to the monitor closes exits at once. */
void
proc_read(struct imsgbuf *ib)
{
	switch (imsgbuf_read(ib)) {
	case -1:
		fatal("read from monitor");
	case 0:
		log_debug("monitor closed the socket, exiting");
		exit(0);
	}
}

void
proc_write(struct imsgbuf *ib)
{
	if (imsgbuf_write(ib) == -1) {
		if (errno == EPIPE)
			exit(0);
		fatal("write to monitor");
	}
}

/* A child's socket to the monitor in its poll set: in, out when queued. */
void
proc_pollfd(struct pollfd *pfd, struct imsgbuf *ib)
{
	pfd->fd = ib->fd;
	pfd->events = POLLIN;
	if (imsgbuf_queuelen(ib) > 0)
		pfd->events |= POLLOUT;
}

/* After poll: what is queued goes out, what came in is dispatched. */
void
proc_pollio(const struct pollfd *pfd, struct imsgbuf *ib,
    void (*dispatch)(void))
{
	if (pfd->revents & POLLOUT)
		proc_write(ib);
	if (pfd->revents & (POLLIN | POLLHUP | POLLERR))
		dispatch();
}

/* IMSG_LOG_VERBOSE, in every child: the log level the monitor set. */
void
proc_log_verbose(struct imsg *imsg)
{
	struct log_verbose_msg	 lv;

	if (imsg_get_data(imsg, &lv, sizeof(lv)) == -1 || lv.verbose < 0 ||
	    lv.verbose > 2)
		fatalx("bad IMSG_LOG_VERBOSE");
	log_setverbose(lv.verbose);
}

/* Before and after long work: said at once, the loop does not run. */
void
proc_busy(struct imsgbuf *ib, int on)
{
	struct busy_msg	 bm = { on != 0 };

	if (imsg_compose(ib, IMSG_BUSY, 0, 0, -1, &bm, sizeof(bm)) == -1 ||
	    imsgbuf_flush(ib) == -1)
		fatal("imsg to the monitor");
}

/* IMSG_PING, in every child: the answer shows the loop runs. */
void
proc_pong(struct imsg *imsg, struct imsgbuf *ib)
{
	struct ping_msg	 pm;

	if (imsg_get_data(imsg, &pm, sizeof(pm)) == -1)
		fatalx("bad IMSG_PING");
	if (imsg_compose(ib, IMSG_PONG, 0, 0, -1, &pm, sizeof(pm)) == -1)
		fatal("imsg_compose");
}
