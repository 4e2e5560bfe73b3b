/*
 * Hooks, the health check and alert commands: child processes of the
 * monitor, without a shell, as the script user, in their own process
 * group, each with a deadline at which its whole process group is
 * killed.  Hooks and the check run one at a time and in order; alert
 * commands and mail senders run beside them at once, so a hanging alert
 * never delays a hook (at most MAX_BESIDE at a time).  What a command
 * writes on its standard output and error goes to the log, a line at a
 * time, tagged with the hook.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <poll.h>
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
#include "log.h"
#include "monitor.h"
#include "timer.h"

struct job {
	TAILQ_ENTRY(job)	 entry;
	enum job_kind		 kind;
	char			**argv;
	char			 role[16];
	int64_t			 epoch;
	uint32_t		 timeout;
	uint64_t		 deadline;	/* absolute, set when started */
	uint64_t		 hard_deadline;	/* absolute cap, 0: none */
	job_done_cb		 done;
	pid_t			 pid;
	int			 killed;
	char			 alert[16];	/* JOB_ALERT: its name */
	int			(*run)(void *);	/* JOB_MAIL: the sender */
	void			(*arg_free)(void *);
	void			*arg;
	int			 out;		/* its output, or -1 */
	char			 obuf[512];
	size_t			 olen;
	int			 olines;
};

#define MAX_BESIDE	16	/* alert commands and mails at once */
#define MAX_OUT_LINES	100	/* of one run; the rest is dropped */

static TAILQ_HEAD(, job)	 jobs = TAILQ_HEAD_INITIALIZER(jobs);
static TAILQ_HEAD(, job)	 beside = TAILQ_HEAD_INITIALIZER(beside);
/*
 * Ended jobs whose output pipe something still holds (a daemon a hook
 * started with setsid and its standard output): read until it closes,
 * so that what it writes is logged and it is not killed by SIGPIPE.
 */
static TAILQ_HEAD(, job)	 linger = TAILQ_HEAD_INITIALIZER(linger);
static int			 nlinger;
static TAILQ_HEAD(, job)	 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static int			 nwaiting;
#define MAX_BESIDE_WAIT	64
#define MAX_LINGER	8
static int			 nbeside;
static struct job		*running;
static struct timers		*hook_timers;
static unsigned int		 tm_id;

static const char *job_names[] = {
	[JOB_ON_ACTIVE] = "on-active",
	[JOB_ON_STANDBY] = "on-standby",
	[JOB_ON_FAULT] = "on-fault",
	[JOB_CHECK] = "check",
	[JOB_ALERT] = "alert command",
	[JOB_MAIL] = "alert mail",
};

static void	 job_start_next(void);
static int	 job_spawn(struct job *);
static void	 job_arm(void);

void
hooks_init(struct timers *t, unsigned int id)
{
	hook_timers = t;
	tm_id = id;
}

static char **
argv_copy(char **argv)
{
	char	**a;
	size_t	 n, i;

	for (n = 0; argv[n] != NULL; n++)
		;
	if ((a = calloc(n + 1, sizeof(*a))) == NULL)
		fatal(NULL);
	for (i = 0; i < n; i++)
		if ((a[i] = strdup(argv[i])) == NULL)
			fatal(NULL);
	return (a);
}

static void	 job_output(struct job *, int);

static void
job_free(struct job *j)
{
	char	**p;

	if (j->out != -1)
		job_output(j, 1);
	for (p = j->argv; *p != NULL; p++)
		free(*p);
	free(j->argv);
	if (j->arg_free != NULL)
		j->arg_free(j->arg);
	free(j);
}

static struct job *
job_new(enum job_kind kind, char **argv, const char *role, int64_t epoch,
    uint32_t timeout)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal(NULL);
	j->kind = kind;
	j->argv = argv_copy(argv);
	strlcpy(j->role, role, sizeof(j->role));
	j->epoch = epoch;
	j->timeout = timeout;
	j->pid = -1;
	j->out = -1;
	return (j);
}

/*
 * Beside the hooks, at once, or when one of the MAX_BESIDE running ends
 * (a relay that hangs holds its sender for its 10 s): at most
 * MAX_BESIDE_WAIT wait, in order.  j is freed when it cannot start.
 */
static void
beside_start(struct job *j)
{
	if (nbeside >= MAX_BESIDE) {
		if (nwaiting >= MAX_BESIDE_WAIT) {
			log_warnx("%s: %d running and %d waiting, %s dropped",
			    job_names[j->kind], nbeside, nwaiting,
			    j->argv[0]);
			job_free(j);
			return;
		}
		log_info("%s: %d running, %s waits", job_names[j->kind],
		    nbeside, j->argv[0]);
		TAILQ_INSERT_TAIL(&waiting, j, entry);
		nwaiting++;
		return;
	}
	if (job_spawn(j) == -1) {
		job_free(j);
		return;
	}
	j->deadline = timer_now() + j->timeout;
	TAILQ_INSERT_TAIL(&beside, j, entry);
	nbeside++;
	job_arm();
}

/* An alert command: FAILOVER_ROLE is the node's, FAILOVER_ALERT the name. */
void
hooks_alert_cmd(struct conf_cmd *cmd, const char *name, const char *role,
    int64_t epoch, uint32_t timeout)
{
	struct job	*j;

	j = job_new(JOB_ALERT, cmd->argv, role, epoch, timeout);
	strlcpy(j->alert, name, sizeof(j->alert));
	beside_start(j);
}

/*
 * A function run in a forked process beside the hooks (a mail sender):
 * its exit status is run's return; arg_free(arg) when it is done.
 */
void
hooks_beside(enum job_kind kind, const char *what, uint32_t timeout,
    int (*run)(void *), void (*arg_free)(void *), void *arg)
{
	struct job	*j;
	char		*argv[2];

	argv[0] = (char *)what;
	argv[1] = NULL;
	j = job_new(kind, argv, role_name(mon.role), mon.epoch, timeout);
	j->run = run;
	j->arg_free = arg_free;
	j->arg = arg;
	beside_start(j);
}

/*
 * Queue cmd; done is called with the exit status (-1: could not run or
 * timed out).  hard is an absolute deadline that caps the timeout.
 */
void
hooks_run(enum job_kind kind, struct conf_cmd *cmd, const char *role,
    int64_t epoch, uint32_t timeout, uint64_t hard, job_done_cb done)
{
	struct job	*j;

	if (cmd == NULL) {
		if (done != NULL)
			done(kind, 0);
		return;
	}
	j = job_new(kind, cmd->argv, role, epoch, timeout);
	j->hard_deadline = hard;
	j->done = done;
	TAILQ_INSERT_TAIL(&jobs, j, entry);
	job_start_next();
}

int
hooks_busy(void)
{
	return (running != NULL || !TAILQ_EMPTY(&jobs));
}

/* One timer for the earliest deadline of the hook and the alerts. */
static void
job_arm(void)
{
	struct job	*j;
	uint64_t	 next = 0;

	if (running != NULL) {
		running->deadline = running->deadline ? running->deadline :
		    timer_now() + running->timeout;
		if (running->hard_deadline != 0 &&
		    running->hard_deadline < running->deadline)
			running->deadline = running->hard_deadline;
		if (!running->killed)
			next = running->deadline;
	}
	TAILQ_FOREACH(j, &beside, entry)
		if (!j->killed && (next == 0 || j->deadline < next))
			next = j->deadline;
	if (next == 0)
		timer_stop(hook_timers, tm_id);
	else
		timer_set_at(hook_timers, tm_id, next);
}

/* A forced demotion shortens what runs: kill at t0 + L - S. */
void
hooks_cap(enum job_kind kind, uint64_t hard)
{
	struct job	*j;

	TAILQ_FOREACH(j, &jobs, entry)
		if (j->kind == kind && (j->hard_deadline == 0 ||
		    hard < j->hard_deadline))
			j->hard_deadline = hard;
	if (running != NULL && running->kind == kind &&
	    (running->hard_deadline == 0 || hard < running->hard_deadline)) {
		running->hard_deadline = hard;
		job_arm();
	}
}

/* Kill the running job of kind and drop the queued ones. */
void
hooks_cancel(enum job_kind kind)
{
	struct job	*j, *next;

	for (j = TAILQ_FIRST(&jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (j->kind != kind)
			continue;
		TAILQ_REMOVE(&jobs, j, entry);
		log_info("%s: cancelled", job_names[kind]);
		job_free(j);
	}
	if (running != NULL && running->kind == kind && !running->killed) {
		log_notice("%s: killing process group %d", job_names[kind],
		    running->pid);
		kill(-running->pid, SIGKILL);
		running->killed = 1;
		running->done = NULL;
	}
}

/*
 * In the child: a session of its own first (its process group is then
 * its pid), and only then tell the parent, through the close of ready,
 * that the group may be signalled.  The parent does not setpgid(): had it
 * won the race, the child would have been a group leader and setsid()
 * would have failed, leaving the hook in the daemon's session.
 */
static void
job_exec(struct job *j, int ready, int out)
{
	struct fo_conf	*conf = mon.conf;
	struct passwd	*pw;
	char		 ebuf[5][128], *envp[7];
	sigset_t	 none;
	int		 fd, n;

	if (setsid() == -1)
		_exit(126);
	close(ready);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, STDIN_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (j->run != NULL) {
		/* a sender of ours: it logs for itself, and a relay that
		 * closes is an error it says, not a SIGPIPE */
		signal(SIGPIPE, SIG_IGN);
		closefrom(STDERR_FILENO + 1);
		_exit(j->run(j->arg));
	}
	if (out != -1) {
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
	}
	closefrom(STDERR_FILENO + 1);
	if ((pw = getpwnam(conf->script_user)) == NULL)
		_exit(126);
	if (pw->pw_uid != 0) {
		if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
			_exit(126);
	}
	if (chdir("/") == -1)
		_exit(126);
	snprintf(ebuf[0], sizeof(ebuf[0]), "FAILOVER_ROLE=%s", j->role);
	snprintf(ebuf[1], sizeof(ebuf[1]), "FAILOVER_EPOCH=%lld",
	    (long long)(j->epoch < 0 ? 0 : j->epoch));
	snprintf(ebuf[2], sizeof(ebuf[2]), "FAILOVER_NODE=%s", conf->node);
	snprintf(ebuf[3], sizeof(ebuf[3]), "FAILOVER_CLUSTER=%s",
	    conf->cluster);
	for (n = 0; n < 4; n++)
		envp[n] = ebuf[n];
	if (j->alert[0] != '\0') {
		snprintf(ebuf[4], sizeof(ebuf[4]), "FAILOVER_ALERT=%s",
		    j->alert);
		envp[n++] = ebuf[4];
	}
	envp[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[n] = NULL;
	execve(j->argv[0], j->argv, envp);
	_exit(127);
}

static int
job_spawn(struct job *j)
{
	pid_t	 pid;
	char	 c;
	int	 p[2], o[2] = { -1, -1 };

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", job_names[j->kind]);
		return (-1);
	}
	if (j->run == NULL && pipe2(o, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("%s: pipe for its output", job_names[j->kind]);
		o[0] = o[1] = -1;
	}
	switch ((pid = fork())) {
	case -1:
		log_warn("%s: fork", job_names[j->kind]);
		close(p[0]);
		close(p[1]);
		if (o[0] != -1) {
			close(o[0]);
			close(o[1]);
		}
		return (-1);
	case 0:
		close(p[0]);
		if (o[1] != -1) {
			/* blocking for the command, as a terminal would be */
			fcntl(o[1], F_SETFL, 0);
		}
		job_exec(j, p[1], o[1]);
		/* NOTREACHED */
	}
	if (o[1] != -1)
		close(o[1]);
	j->out = o[0];
	/* the group exists before anyone may signal it: wait for the
	 * child's setsid(), a few system calls away */
	close(p[1]);
	while (read(p[0], &c, 1) == -1 && errno == EINTR)
		;
	close(p[0]);
	j->pid = pid;
	if (j->kind == JOB_CHECK)
		log_debug("%s: %s, pid %d", job_names[j->kind], j->argv[0],
		    pid);
	else
		log_notice("%s: running %s (FAILOVER_ROLE=%s, epoch %lld), "
		    "pid %d", job_names[j->kind], j->argv[0], j->role,
		    (long long)j->epoch, pid);
	return (0);
}

static void
job_start_next(void)
{
	struct job	*j;

	while (running == NULL && (j = TAILQ_FIRST(&jobs)) != NULL) {
		TAILQ_REMOVE(&jobs, j, entry);
		if (job_spawn(j) == -1) {
			if (j->done != NULL)
				j->done(j->kind, -1);
			job_free(j);
			continue;
		}
		running = j;
		job_arm();
	}
}

static void
job_line(struct job *j, char *line)
{
	char	*p;

	/* an escape or a CR of the command's does not reach the log raw */
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (j->olines++ == MAX_OUT_LINES) {
		log_notice("%s output: more than %d lines, the rest is "
		    "dropped", job_names[j->kind], MAX_OUT_LINES);
		return;
	}
	if (j->olines > MAX_OUT_LINES)
		return;
	if (j->kind == JOB_CHECK)
		log_info("%s output: %s", job_names[j->kind], line);
	else
		log_notice("%s output: %s", job_names[j->kind], line);
}

/*
 * What the command wrote, a line at a time (a line longer than the
 * buffer is cut); at the end, what is left, and the pipe is closed.
 */
static void
job_output(struct job *j, int end)
{
	char	*nl, *p;
	ssize_t	 n;

	for (;;) {
		n = read(j->out, j->obuf + j->olen, sizeof(j->obuf) - 1 -
		    j->olen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n > 0) {
			char	*z;

			/* a NUL would end the line early: shown as ? */
			while ((z = memchr(j->obuf + j->olen, '\0', n)) != NULL)
				*z = '?';
			j->olen += n;
		}
		j->obuf[j->olen] = '\0';
		p = j->obuf;
		while ((nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			job_line(j, p);
			p = nl + 1;
		}
		j->olen -= p - j->obuf;
		memmove(j->obuf, p, j->olen);
		if (j->olen == sizeof(j->obuf) - 1) {
			j->obuf[j->olen] = '\0';
			job_line(j, j->obuf);
			j->olen = 0;
		}
		if (n > 0)
			continue;
		if (n == 0 || end || errno != EAGAIN)
			break;
		return;
	}
	if (n == 0 || end) {
		if (j->olen > 0) {
			j->obuf[j->olen] = '\0';
			job_line(j, j->obuf);
			j->olen = 0;
		}
		close(j->out);
		j->out = -1;
	}
}

/* The pipes of what runs, for the monitor's poll. */
int
hooks_pollfds(struct pollfd *pfd, int max)
{
	struct job	*j;
	int		 n = 0;

	if (running != NULL && running->out != -1 && n < max) {
		pfd[n].fd = running->out;
		pfd[n++].events = POLLIN;
	}
	TAILQ_FOREACH(j, &beside, entry)
		if (j->out != -1 && n < max) {
			pfd[n].fd = j->out;
			pfd[n++].events = POLLIN;
		}
	TAILQ_FOREACH(j, &linger, entry)
		if (n < max) {
			pfd[n].fd = j->out;
			pfd[n++].events = POLLIN;
		}
	return (n);
}

void
hooks_dispatch(struct pollfd *pfd, int n)
{
	struct job	*j;
	int		 i;

	for (i = 0; i < n; i++) {
		if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
			continue;
		j = NULL;
		if (running != NULL && running->out == pfd[i].fd)
			j = running;
		else
			TAILQ_FOREACH(j, &beside, entry)
				if (j->out == pfd[i].fd)
					break;
		if (j != NULL) {
			job_output(j, 0);
			continue;
		}
		TAILQ_FOREACH(j, &linger, entry)
			if (j->out == pfd[i].fd)
				break;
		if (j != NULL) {
			job_output(j, 0);
			if (j->out == -1) {
				TAILQ_REMOVE(&linger, j, entry);
				nlinger--;
				job_free(j);
			}
		}
	}
}

/* SIGCHLD: returns 1 when pid was a job. */
int
hooks_reap(pid_t pid, int status)
{
	struct job	*j = running, *w;
	int		 code;

	if (j == NULL || j->pid != pid) {
		TAILQ_FOREACH(j, &beside, entry)
			if (j->pid == pid)
				break;
		if (j == NULL)
			return (0);
		TAILQ_REMOVE(&beside, j, entry);
		nbeside--;
		if ((w = TAILQ_FIRST(&waiting)) != NULL) {
			TAILQ_REMOVE(&waiting, w, entry);
			nwaiting--;
			beside_start(w);
		}
	} else
		running = NULL;
	job_arm();
	/* whatever it left behind in its group goes with it */
	kill(-pid, SIGKILL);
	/* its output before the line of its end, a last line without its
	 * newline too: what a daemon it left behind writes comes later */
	if (j->out != -1) {
		job_output(j, 0);
		if (j->out != -1 && j->olen > 0) {
			j->obuf[j->olen] = '\0';
			job_line(j, j->obuf);
			j->olen = 0;
		}
	}
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else
		code = -1;
	if (j->kind == JOB_CHECK && code == 0)
		log_debug("%s: exit 0", job_names[j->kind]);
	else if (j->killed)
		log_notice("%s: %s killed at its deadline", job_names[j->kind],
		    j->argv[0]);
	else if (WIFEXITED(status))
		log_notice("%s: %s exited %d", job_names[j->kind], j->argv[0],
		    code);
	else
		log_notice("%s: %s killed by signal %d", job_names[j->kind],
		    j->argv[0], WTERMSIG(status));
	if (j->killed)
		code = -1;
	if (j->done != NULL)
		j->done(j->kind, code);
	if (j->out != -1) {
		/* something it started still holds its output */
		if (nlinger == MAX_LINGER) {
			struct job	*o = TAILQ_FIRST(&linger);

			log_notice("%s output: %d pipes held open by what "
			    "hooks left running; closing the oldest",
			    job_names[o->kind], MAX_LINGER);
			TAILQ_REMOVE(&linger, o, entry);
			nlinger--;
			job_free(o);
		}
		j->done = NULL;
		TAILQ_INSERT_TAIL(&linger, j, entry);
		nlinger++;
	} else
		job_free(j);
	job_start_next();
	return (1);
}

static void
job_kill_late(struct job *j, uint64_t now)
{
	if (j->killed || now < j->deadline)
		return;
	log_warnx("%s: %s did not finish within its time, killing process "
	    "group %d", job_names[j->kind], j->argv[0], j->pid);
	kill(-j->pid, SIGKILL);
	j->killed = 1;
}

/* A deadline passed: kill the process group of whatever is late. */
void
hooks_timeout(void)
{
	struct job	*j;
	uint64_t	 now = timer_now();

	if (running != NULL)
		job_kill_late(running, now);
	TAILQ_FOREACH(j, &beside, entry)
		job_kill_late(j, now);
	job_arm();
}

/* At exit: nothing of ours keeps running. */
void
hooks_kill_all(void)
{
	struct job	*j;

	while ((j = TAILQ_FIRST(&jobs)) != NULL) {
		TAILQ_REMOVE(&jobs, j, entry);
		job_free(j);
	}
	if (running != NULL) {
		kill(-running->pid, SIGKILL);
		waitpid(running->pid, NULL, 0);
		job_free(running);
		running = NULL;
	}
	while ((j = TAILQ_FIRST(&beside)) != NULL) {
		TAILQ_REMOVE(&beside, j, entry);
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		job_free(j);
	}
	nbeside = 0;
	while ((j = TAILQ_FIRST(&linger)) != NULL) {
		TAILQ_REMOVE(&linger, j, entry);
		job_free(j);
	}
	nlinger = 0;
	while ((j = TAILQ_FIRST(&waiting)) != NULL) {
		TAILQ_REMOVE(&waiting, j, entry);
		job_free(j);
	}
	nwaiting = 0;
}
