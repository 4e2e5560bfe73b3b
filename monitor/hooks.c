/*
 * Hooks, the health check and alert commands: child processes of the
 * monitor, without a shell, as the script user, in their own process
 * group, each with a deadline at which its whole process group is
 * killed.  Hooks and the check run one at a time and in order; alert
 * commands run beside them at once, so a hanging alert never delays
 * a hook (at most MAX_BESIDE at a time).
 */

#include <sys/types.h>
#include <sys/wait.h>

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
};

#define MAX_BESIDE	8

static TAILQ_HEAD(, job)	 jobs = TAILQ_HEAD_INITIALIZER(jobs);
static TAILQ_HEAD(, job)	 beside = TAILQ_HEAD_INITIALIZER(beside);
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

static void
job_free(struct job *j)
{
	char	**p;

	for (p = j->argv; *p != NULL; p++)
		free(*p);
	free(j->argv);
	free(j);
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
	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal(NULL);
	j->kind = kind;
	j->argv = argv_copy(cmd->argv);
	strlcpy(j->role, role, sizeof(j->role));
	j->epoch = epoch;
	j->timeout = timeout;
	j->hard_deadline = hard;
	j->done = done;
	j->pid = -1;
	if (kind == JOB_ALERT) {
		if (nbeside >= MAX_BESIDE) {
			log_warnx("%s: %d still running, %s not started",
			    job_names[kind], nbeside, j->argv[0]);
			job_free(j);
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
		return;
	}
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
job_exec(struct job *j, int ready)
{
	struct fo_conf	*conf = mon.conf;
	struct passwd	*pw;
	char		 ebuf[4][128], *envp[6];
	sigset_t	 none;
	int		 fd;

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
	envp[0] = ebuf[0];
	envp[1] = ebuf[1];
	envp[2] = ebuf[2];
	envp[3] = ebuf[3];
	envp[4] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[5] = NULL;
	execve(j->argv[0], j->argv, envp);
	_exit(127);
}

static int
job_spawn(struct job *j)
{
	pid_t	 pid;
	char	 c;
	int	 p[2];

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", job_names[j->kind]);
		return (-1);
	}
	switch ((pid = fork())) {
	case -1:
		log_warn("%s: fork", job_names[j->kind]);
		close(p[0]);
		close(p[1]);
		return (-1);
	case 0:
		close(p[0]);
		job_exec(j, p[1]);
		/* NOTREACHED */
	}
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

/* SIGCHLD: returns 1 when pid was a job. */
int
hooks_reap(pid_t pid, int status)
{
	struct job	*j = running;
	int		 code;

	if (j == NULL || j->pid != pid) {
		TAILQ_FOREACH(j, &beside, entry)
			if (j->pid == pid)
				break;
		if (j == NULL)
			return (0);
		TAILQ_REMOVE(&beside, j, entry);
		nbeside--;
	} else
		running = NULL;
	job_arm();
	/* whatever it left behind in its group goes with it */
	kill(-pid, SIGKILL);
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
}
