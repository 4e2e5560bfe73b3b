/*
 * failoverd: the monitor.  main, the table of children, signals and
 * shutdown; the monitor does no network I/O itself.  The configuration
 * and what each child gets of it are config.c's, role changes and their
 * deadlines role.c's, hooks hooks.c's, the control socket control.c's.
 */

#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "monitor.h"
#include "proc.h"
#include "timer.h"
#include "util.h"

#define POLL_MAX	(PROC_MAX + 64 + 2 + 17)
#define SHUTDOWN_WAIT	5000	/* ms for the children to exit */

struct child {
	pid_t		 pid;
	int		 running;
	struct imsgbuf	 ibuf;
};

enum {
	MT_JOB,		/* the running hook's deadline */
	MT_CHECK,	/* the next health check */
	MT_STOP,	/* a graceful stop may take this long */
	MT_DEMOTE,	/* active: t0 + L - M, kept here too */
	MT_KILL,	/* demoting: t0 + L - S, the drop must be done */
	MT_CONTROL,	/* the control socket's idle deadline */
	MT_ALERT,	/* the end of an alert's minute */
	MT_WATCHDOG	/* systemd's watchdog: the next ping */
};

struct monitor_state	 mon;
static struct child	 children[PROC_MAX];
static struct timers	 mtimers;
static int		 nready, nchildren, start_done, stopping;
static int		 check_fail, check_good, check_bad;
static char		 self_exe[PATH_MAX];
static const char	*sock_override;
static int		 conf_flags;
static int		 opt_debug, opt_verbose;
static int		 quit;
static int		 db_was_up;

extern char		**environ;

static __dead void	 usage(void);
static void		 monitor_start_children(void);
static void		 monitor_dispatch_child(enum proc_id);
static void		 monitor_signal(int);
static void		 monitor_reap(void);
static __dead void	 monitor_shutdown(int);
static void		 monitor_runtime_dirs(void);
static void		 monitor_stop(void);
static void		 monitor_check(void);
static void		 monitor_timers(void);
static void		 monitor_promote_secondaries(void);
static void		 monitor_note_role(void);
static void		 monitor_nodes_seen(void);

static __dead void
usage(void)
{
	fprintf(stderr, "usage: failoverd [-dnVv] [-f file] [-N node] "
	    "[-s socket]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct pollfd	 pfd[POLL_MAX];
	struct fo_conf	*conf;
	const char	*conffile = CONF_FILE, *node = NULL, *pname = NULL;
	sigset_t	 mask;
	ssize_t		 n;
	int		 ch, noaction = 0, sigfd, i, npfd, nctl, nhook, id;

	setproctitle_init(argc, argv, environ);
	if (strcmp(getprogname(), "failoverctl") == 0)
		return (ctl_main(argc, argv));

	while ((ch = getopt(argc, argv, "+df:nN:P:s:Vv")) != -1) {
		switch (ch) {
		case 'd':
			opt_debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'N':
			node = optarg;
			conf_flags |= CONF_NODEGIVEN;
			break;
		case 'P':
			pname = optarg;
			break;
		case 's':
			sock_override = optarg;
			break;
		case 'v':
			opt_verbose++;
			break;
		case 'V':
			printf("failoverd %s\n", FO_VERSION);
			exit(0);
		default:
			usage();
		}
	}
	argc -= optind;
	if (argc > 0)
		usage();

	if (pname != NULL) {
		if (fcntl(CHILD_FD, F_GETFD) == -1)
			errx(1, "-P is for the processes failoverd starts");
		switch (proc_byname(pname)) {
		case PROC_HEARTBEAT:
			heartbeatd_main(opt_debug, opt_verbose);
			break;
		case PROC_NET:
			netd_main(opt_debug, opt_verbose);
			break;
		case PROC_SYNC:
			syncd_main(opt_debug, opt_verbose);
			break;
		case PROC_DNS:
			dnsd_main(opt_debug, opt_verbose);
			break;
		default:
			errx(1, "unknown process %s", pname);
		}
		exit(0);
	}

	if (sodium_init() == -1)
		errx(1, "sodium_init failed");
	log_init(1, opt_verbose);
	if (noaction)
		conf_flags |= CONF_CHECKONLY;
	if ((conf = config_load(conffile, node, conf_flags, sock_override)) ==
	    NULL)
		exit(1);
	if (noaction) {
		if (opt_verbose)
			printconf(stdout, conf);
		fprintf(stderr, "configuration OK\n");
		config_free(conf);
		exit(0);
	}

	if (geteuid() != 0)
		errx(1, "need root privileges");
	if (getpwnam(FAILOVERD_USER) == NULL)
		errx(1, "user %s does not exist: create it (make deps does)",
		    FAILOVERD_USER);
	if (control_running(conf->ctl_socket))
		errx(1, "another failoverd answers on %s", conf->ctl_socket);
	if ((n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1))
	    == -1)
		err(1, "readlink /proc/self/exe");
	self_exe[n] = '\0';
	monitor_runtime_dirs();

	mon.conf = conf;
	mon.role = ROLE_STARTING;
	mon.epoch = -1;
	mon.sync.last_ok = -1;

	log_init(opt_debug, opt_verbose);
	log_procinit("monitor");
	timer_init(&mtimers);
	/* under systemd (Type=notify) the monitor stays its main process */
	notify_init(&mtimers, MT_WATCHDOG);
	if (!opt_debug && !notify_systemd() && daemon(0, 0) == -1)
		fatal("daemon");

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);

	hooks_init(&mtimers, MT_JOB);
	alert_init(&mtimers, MT_ALERT);
	role_init(&mtimers, MT_DEMOTE, MT_KILL);
	control_timer_init(&mtimers, MT_CONTROL);
	if (control_init(conf->ctl_socket, conf->ctl_group) == -1)
		fatalx("cannot open control socket %s", conf->ctl_socket);
	log_notice("starting: node %s, cluster %s, configuration %s",
	    conf->node, conf->cluster, conf->file);
	monitor_promote_secondaries();
	monitor_start_children();
	config_send(conf);
	setproctitle("monitor");

	while (!quit) {
		npfd = 0;
		pfd[npfd].fd = sigfd;
		pfd[npfd++].events = POLLIN;
		pfd[npfd].fd = mtimers.fd;
		pfd[npfd++].events = POLLIN;
		for (id = PROC_MONITOR + 1; id < PROC_MAX; id++) {
			if (!children[id].running)
				continue;
			pfd[npfd].fd = children[id].ibuf.fd;
			pfd[npfd].events = POLLIN;
			if (imsgbuf_queuelen(&children[id].ibuf) > 0)
				pfd[npfd].events |= POLLOUT;
			npfd++;
		}
		nhook = hooks_pollfds(pfd + npfd, POLL_MAX - npfd);
		nctl = control_pollfds(pfd + npfd + nhook, POLL_MAX - npfd -
		    nhook);
		if (poll(pfd, npfd + nhook + nctl, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo	 si;

			while (read(sigfd, &si, sizeof(si)) == sizeof(si))
				monitor_signal(si.ssi_signo);
		}
		if (pfd[1].revents & POLLIN)
			monitor_timers();
		for (i = 2; i < npfd; i++) {
			for (id = PROC_MONITOR + 1; id < PROC_MAX; id++)
				if (children[id].running &&
				    children[id].ibuf.fd == pfd[i].fd)
					break;
			if (id == PROC_MAX)
				continue;
			if (pfd[i].revents & POLLOUT &&
			    imsgbuf_write(&children[id].ibuf) == -1) {
				log_warn("write to %s", proc_name(id));
				monitor_shutdown(1);
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				monitor_dispatch_child(id);
		}
		hooks_dispatch(pfd + npfd, nhook);
		control_dispatch(pfd + npfd + nhook, nctl);
		monitor_note_role();
	}
	monitor_shutdown(0);
}

static void
monitor_timers(void)
{
	timer_ack(&mtimers);
	if (timer_due(&mtimers, MT_JOB))
		hooks_timeout();
	if (timer_due(&mtimers, MT_CHECK))
		monitor_check();
	if (timer_due(&mtimers, MT_STOP)) {
		log_warnx("graceful stop did not finish in time");
		monitor_shutdown(1);
	}
	if (timer_due(&mtimers, MT_DEMOTE))
		role_deadline();
	if (timer_due(&mtimers, MT_KILL))
		role_kill_deadline();
	if (timer_due(&mtimers, MT_CONTROL))
		control_timeout();
	if (timer_due(&mtimers, MT_ALERT))
		alert_timeout();
	if (timer_due(&mtimers, MT_WATCHDOG))
		notify_watchdog();
}

int
monitor_child_running(int id)
{
	return (id > PROC_MONITOR && id < PROC_MAX && children[id].running);
}

/*
 * After each turn of the loop: a new role is noted (since when, why, the
 * counters), and a new role or epoch told to systemd.
 */
static void
monitor_note_role(void)
{
	static enum role	 noted = ROLE_STARTING;
	struct timespec		 ts;

	if (mon.role != noted) {
		clock_gettime(CLOCK_REALTIME, &ts);
		mon.role_since = (int64_t)ts.tv_sec * 1000 +
		    ts.tv_nsec / 1000000;
		strlcpy(mon.role_why, mon.reason, sizeof(mon.role_why));
		if (mon.role == ROLE_ACTIVE)
			mon.takeovers++;
		if (noted == ROLE_ACTIVE)
			mon.demotions++;
		if (mon.role == ROLE_FAULT)
			mon.faults++;
		if (mon.role != ROLE_ACTIVE)
			mon.standby_lost = 0;
		mon.active_since = mon.role == ROLE_ACTIVE ? timer_now() : 0;
		noted = mon.role;
	}
	notify_status();
}

/*
 * The active's view of redundancy: a standby is a row of role standby
 * newer than L.  None, once the node has been active for L (the others
 * have had the time to say they are there): standby-lost; one again:
 * standby-back.
 */
static void
monitor_nodes_seen(void)
{
	struct fo_conf	*conf = mon.conf;
	char		 seen[256];
	size_t		 len = 0;
	uint32_t	 i, n = 0;

	if (mon.role != ROLE_ACTIVE || mon.active_since == 0 ||
	    timer_since(timer_now(), mon.active_since) < conf->timing.dead)
		return;
	seen[0] = '\0';
	for (i = 0; i < mon.nodes.n; i++) {
		if (strcmp(mon.nodes.e[i].node, conf->node) == 0)
			continue;
		if (mon.nodes.e[i].role == ROLE_STANDBY &&
		    mon.nodes.e[i].seen_ms_ago >= 0 &&
		    mon.nodes.e[i].seen_ms_ago <= conf->timing.dead)
			n++;
		else if (len < sizeof(seen))
			len += snprintf(seen + len, sizeof(seen) - len,
			    "%s%s %s, seen %lld s ago", len ? "; " : "",
			    mon.nodes.e[i].node,
			    role_name(mon.nodes.e[i].role),
			    (long long)mon.nodes.e[i].seen_ms_ago / 1000);
	}
	if (n == 0 && !mon.standby_lost) {
		mon.standby_lost = 1;
		alert("standby-lost", "no standby seen within the dead "
		    "interval: a failure of %s now stops the service (%s)",
		    conf->node, seen[0] ? seen : "no other node has a row");
	} else if (n > 0 && mon.standby_lost) {
		mon.standby_lost = 0;
		alert("standby-back", "%u standby node%s seen again", n,
		    n == 1 ? "" : "s");
	}
}

/* /run/failoverd/empty: root, 0555, empty; shared by daemons on a host. */
static void
monitor_runtime_dirs(void)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;

	if (mkdir(RUN_DIR, 0755) == -1 && errno != EEXIST)
		err(1, "mkdir %s", RUN_DIR);
	if (mkdir(EMPTY_DIR, 0555) == -1 && errno != EEXIST)
		err(1, "mkdir %s", EMPTY_DIR);
	if (lstat(EMPTY_DIR, &st) == -1)
		err(1, "%s", EMPTY_DIR);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
		errx(1, "%s must be a directory owned by root", EMPTY_DIR);
	if ((st.st_mode & 07777) != 0555 && chmod(EMPTY_DIR, 0555) == -1)
		err(1, "chmod %s", EMPTY_DIR);
	if ((d = opendir(EMPTY_DIR)) == NULL)
		err(1, "%s", EMPTY_DIR);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			errx(1, "%s must be empty (found %s)", EMPTY_DIR,
			    de->d_name);
	closedir(d);
}

static void
monitor_start_children(void)
{
	static const enum proc_id order[] = {
		PROC_HEARTBEAT, PROC_NET, PROC_SYNC, PROC_DNS
	};
	size_t	 i;
	int	 fd;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct child	*c = &children[order[i]];

		/* dnsd only for a virtual hostname */
		if (order[i] == PROC_DNS && mon.conf->hostname == NULL)
			continue;
		nchildren++;

		c->pid = proc_exec(order[i], self_exe, opt_debug, opt_verbose,
		    &fd);
		/* no descriptor is taken from a child: one that sends any
		 * is no longer the program we started */
		if (imsgbuf_init(&c->ibuf, fd) == -1)
			fatal("imsgbuf_init");
		c->running = 1;
		log_debug("started %s, pid %d", proc_name(order[i]), c->pid);
	}
}

/* A message to a child, with a descriptor (or -1). */
void
monitor_compose_fd(enum proc_id id, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (imsg_compose(&children[id].ibuf, type, 0, 0, fd, data, len) == -1)
		fatal("imsg_compose to %s", proc_name(id));
}

void
monitor_compose(enum proc_id id, uint32_t type, const void *data, size_t len)
{
	if (!children[id].running)
		return;
	monitor_compose_fd(id, type, -1, data, len);
}

/* the start sequence: on-standby with FAILOVER_ROLE=starting */
static void
start_hook_done(enum job_kind kind, int status)
{
	struct start_msg o;

	(void)kind;
	memset(&o, 0, sizeof(o));
	o.ok = status == 0;
	if (!o.ok) {
		snprintf(o.reason, sizeof(o.reason), "on-standby at start "
		    "failed (%d)", status);
		alert("hook-failed", "%s", o.reason);
	}
	start_done = 1;
	monitor_compose(PROC_HEARTBEAT, IMSG_START, &o, sizeof(o));
	if (mon.conf->check != NULL)
		timer_set(&mtimers, MT_CHECK, mon.conf->check->interval);
}

static void
monitor_dispatch_child(enum proc_id id)
{
	struct fo_conf	*conf = mon.conf;
	struct child	*c = &children[id];
	struct imsg	 imsg;
	struct role_msg	 rm;
	struct seen_msg	 sm;
	struct db_msg	 dbm;
	uint32_t	 i, type;
	ssize_t		 n;

	if ((n = imsgbuf_read(&c->ibuf)) == -1) {
		if (errno == EBADMSG)
			log_warnx("%s sent a file descriptor: refused and "
			    "closed; shutting down", proc_name(id));
		else
			log_warn("read from %s", proc_name(id));
		monitor_shutdown(1);
	}
	if (n == 0) {
		log_warnx("lost child: %s", proc_name(id));
		monitor_shutdown(1);
	}
	for (;;) {
		if ((n = imsg_get(&c->ibuf, &imsg)) == -1) {
			log_warn("bad message from %s", proc_name(id));
			monitor_shutdown(1);
		}
		if (n == 0)
			break;
		type = imsg_get_type(&imsg);
		/* every message has one sender */
		switch (type) {
		case IMSG_READY:
		case IMSG_PONG:
		case IMSG_BUSY:
			break;
		case IMSG_VIP_BOUND:
		case IMSG_VIP_EXTENDED:
		case IMSG_VIP_DROPPED:
		case IMSG_VIP_STATE:
		case IMSG_FAULT:
			if (id != PROC_NET)
				fatalx("message %u from %s", type,
				    proc_name(id));
			break;
		case IMSG_DNS_RESULT:
			if (id != PROC_DNS)
				fatalx("message %u from %s", type,
				    proc_name(id));
			break;
		case IMSG_SYNC_STATUS:
		case IMSG_SYNC_ALERT:
		case IMSG_SYNC_FINAL_DONE:
			if (id != PROC_SYNC)
				fatalx("message %u from %s", type,
				    proc_name(id));
			break;
		case IMSG_REQ_RESULT:
			if (id != PROC_SYNC && id != PROC_HEARTBEAT)
				fatalx("message %u from %s", type,
				    proc_name(id));
			break;
		default:
			if (id != PROC_HEARTBEAT)
				fatalx("message %u from %s", type,
				    proc_name(id));
		}
		switch (type) {
		case IMSG_READY:
			if (imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_READY from %s", proc_name(id));
			log_info("%s ready", proc_name(id));
			if (++nready == nchildren) {
				hooks_run(JOB_ON_STANDBY, conf->on_standby,
				    "starting", 0, conf->on_standby ?
				    conf->on_standby->timeout : 0, 0,
				    start_hook_done);
				/* every child is up; the socket listens */
				if (control_running(conf->ctl_socket))
					notify_ready();
				else
					log_warnx("the control socket %s does "
					    "not answer: systemd is not told "
					    "ready", conf->ctl_socket);
			}
			break;
		case IMSG_PONG: {
			struct ping_msg	 pm;

			if (imsg_get_data(&imsg, &pm, sizeof(pm)) == -1)
				fatalx("bad IMSG_PONG from %s", proc_name(id));
			notify_pong(id, pm.seq);
			break;
		}
		case IMSG_BUSY: {
			struct busy_msg	 bm;

			if (imsg_get_data(&imsg, &bm, sizeof(bm)) == -1 ||
			    bm.on > 1)
				fatalx("bad IMSG_BUSY from %s", proc_name(id));
			notify_busy(id, bm.on);
			break;
		}
		case IMSG_ROLE:
			if (imsg_get_data(&imsg, &rm, sizeof(rm)) == -1 ||
			    rm.role >= ROLE_MAX || !STR_OK(rm.holder) ||
			    !STR_OK(rm.reason))
				fatalx("bad IMSG_ROLE");
			role_change(&rm);
			/* each change counted, also several in one read */
			monitor_note_role();
			/* a shutdown stops heartbeatd once the role is left */
			if (stopping == 1 && mon.role != ROLE_ACTIVE &&
			    mon.role != ROLE_DEMOTING) {
				stopping = 2;
				monitor_compose(PROC_HEARTBEAT, IMSG_STOP,
				    NULL, 0);
			}
			break;
		case IMSG_LEASE_RENEWED: {
			struct renewed_msg	 lm;

			if (imsg_get_data(&imsg, &lm, sizeof(lm)) == -1)
				fatalx("bad IMSG_LEASE_RENEWED");
			role_renewed(&lm);
			break;
		}
		case IMSG_LEASE_SEEN:
			if (imsg_get_data(&imsg, &sm, sizeof(sm)) == -1 ||
			    !STR_OK(sm.holder))
				fatalx("bad IMSG_LEASE_SEEN");
			strlcpy(mon.holder, sm.holder, sizeof(mon.holder));
			if (mon.role != ROLE_ACTIVE &&
			    mon.role != ROLE_DEMOTING)
				mon.epoch = sm.epoch;
			mon.may_take_at = sm.may_take_at;
			/* syncd fences sessions by the holder and epoch seen */
			monitor_compose(PROC_SYNC, IMSG_LEASE_SEEN, &sm,
			    sizeof(sm));
			break;
		case IMSG_DB_STATE:
			if (imsg_get_data(&imsg, &dbm, sizeof(dbm)) == -1 ||
			    !STR_OK(dbm.error))
				fatalx("bad IMSG_DB_STATE");
			if (mon.db_up && !dbm.up)
				alert("db-down", "%s", dbm.error);
			else if (!mon.db_up && dbm.up && db_was_up)
				alert("db-up", "the database answers again");
			if (dbm.up)
				db_was_up = 1;
			mon.db_up = dbm.up;
			strlcpy(mon.db_error, dbm.error, sizeof(mon.db_error));
			break;
		case IMSG_NODES: {
			struct nodes_msg	 nm;

			if (imsg_get_data(&imsg, &nm, sizeof(nm)) == -1 ||
			    nm.n > MAX_NODES)
				fatalx("bad IMSG_NODES");
			for (i = 0; i < nm.n; i++)
				if (!STR_OK(nm.e[i].node))
					fatalx("bad IMSG_NODES");
			mon.nodes = nm;
			monitor_nodes_seen();
			break;
		}
		case IMSG_HISTORY_PAUSE: {
			struct history_id_msg	 hi;

			if (imsg_get_data(&imsg, &hi, sizeof(hi)) == -1)
				fatalx("bad IMSG_HISTORY_PAUSE");
			control_history_pause(hi.id);
			break;
		}
		case IMSG_HISTORY_LINE: {
			struct history_line_msg	 hl;

			if (imsg_get_data(&imsg, &hl, sizeof(hl)) == -1 ||
			    !STR_OK(hl.line))
				fatalx("bad IMSG_HISTORY_LINE");
			control_history_line(&hl);
			break;
		}
		case IMSG_REQ_RESULT: {
			struct req_result_msg	 rr;

			if (imsg_get_data(&imsg, &rr, sizeof(rr)) == -1 ||
			    !STR_OK(rr.msg))
				fatalx("bad IMSG_REQ_RESULT");
			control_req_result(&rr);
			break;
		}
		case IMSG_SYNC_FINAL_DONE: {
			struct sync_final_done_msg	 fd;

			if (imsg_get_data(&imsg, &fd, sizeof(fd)) == -1 ||
			    fd.ok > 1 || !STR_OK(fd.reason))
				fatalx("bad IMSG_SYNC_FINAL_DONE");
			role_sync_final(&fd);
			break;
		}
		case IMSG_SYNC_STATUS: {
			struct sync_status_msg	 ss;

			if (imsg_get_data(&imsg, &ss, sizeof(ss)) == -1 ||
			    ss.npeers > MAX_SYNC_PEERS ||
			    ss.nattics > MAX_ATTICS || !STR_OK(ss.last_error))
				fatalx("bad IMSG_SYNC_STATUS");
			for (i = 0; i < ss.npeers; i++)
				if (!STR_OK(ss.peer[i].node) ||
				    !STR_OK(ss.peer[i].state) ||
				    !STR_OK(ss.peer[i].error))
					fatalx("bad IMSG_SYNC_STATUS");
			mon.sync = ss;
			break;
		}
		case IMSG_DNS_RESULT: {
			struct dns_result_msg	 o;

			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1 ||
			    o.ok > 1 || !STR_OK(o.reason))
				fatalx("bad IMSG_DNS_RESULT");
			if (o.ok)
				mon.dns_fault[0] = '\0';
			else if (mon.role == ROLE_ACTIVE &&
			    strcmp(mon.dns_fault, o.reason) != 0) {
				/* the name does not follow: shown, alerted */
				strlcpy(mon.dns_fault, o.reason,
				    sizeof(mon.dns_fault));
				alert("fault", "%s", o.reason);
			}
			break;
		}
		case IMSG_SYNC_ALERT: {
			struct sync_alert_msg	 am;

			if (imsg_get_data(&imsg, &am, sizeof(am)) == -1 ||
			    !STR_OK(am.name) || !STR_OK(am.detail))
				fatalx("bad IMSG_SYNC_ALERT");
			if (strcmp(am.name, "sync-failed") != 0 &&
			    strcmp(am.name, "sync-ok") != 0 &&
			    strcmp(am.name, "peer-down") != 0 &&
			    strcmp(am.name, "peer-up") != 0 &&
			    strcmp(am.name, "attic") != 0)
				fatalx("bad alert from syncd");
			alert(am.name, "%s", am.detail);
			break;
		}
		case IMSG_STOPPED:
			if (imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_STOPPED");
			if (stopping)
				monitor_shutdown(0);
			break;
		case IMSG_VIP_BOUND: {
			struct vip_bound_msg	 vb;

			if (imsg_get_data(&imsg, &vb, sizeof(vb)) == -1 ||
			    vb.ok > 1 || !STR_OK(vb.reason))
				fatalx("bad IMSG_VIP_BOUND");
			role_vip_bound(&vb);
			break;
		}
		case IMSG_VIP_EXTENDED: {
			struct vip_extended_msg	 ve;

			if (imsg_get_data(&imsg, &ve, sizeof(ve)) == -1)
				fatalx("bad IMSG_VIP_EXTENDED");
			monitor_compose(PROC_HEARTBEAT, IMSG_VIP_EXTENDED, &ve,
			    sizeof(ve));
			break;
		}
		case IMSG_VIP_STATE: {
			struct vip_state vs;

			if (imsg_get_data(&imsg, &vs, sizeof(vs)) == -1 ||
			    vs.index >= (uint32_t)conf->nvips ||
			    vs.index >= MAX_VIPS_STATUS)
				fatalx("bad IMSG_VIP_STATE");
			mon.vip_bound[vs.index] = vs.bound != 0;
			break;
		}
		case IMSG_FAULT: {
			struct fault_msg f;

			if (imsg_get_data(&imsg, &f, sizeof(f)) == -1 ||
			    (f.source != FAULT_LINK && f.source != FAULT_VIP) ||
			    f.ok > 1 || !STR_OK(f.reason))
				fatalx("bad IMSG_FAULT from netd");
			if (!f.ok)
				alert("fault", "%s", f.reason);
			/* passed on as it is: heartbeatd decides */
			monitor_compose(PROC_HEARTBEAT, IMSG_FAULT, &f,
			    sizeof(f));
			break;
		}
		case IMSG_VIP_DROPPED: {
			struct vip_dropped_msg	 vd;

			if (imsg_get_data(&imsg, &vd, sizeof(vd)) == -1 ||
			    vd.ok > 1 || !STR_OK(vd.reason))
				fatalx("bad IMSG_VIP_DROPPED");
			role_vip_dropped(&vd);
			break;
		}
		default:
			fatalx("%s: unexpected message %u from %s", __func__,
			    type, proc_name(id));
		}
		imsg_free(&imsg);
	}
}

/*
 * A VIP with a prefix shorter than the host may be the primary address
 * of its subnet: without promote_secondaries, deleting it would take the
 * node's own address with it.
 */
static void
monitor_promote_secondaries(void)
{
	struct conf_vip	*v;
	char		 path[128];
	int		 fd;

	TAILQ_FOREACH(v, &mon.conf->vips, entry) {
		if (v->addr.af != AF_INET || v->prefixlen == 32)
			continue;
		snprintf(path, sizeof(path),
		    "/proc/sys/net/ipv4/conf/%s/promote_secondaries",
		    v->ifname);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
		    write(fd, "1", 1) != 1)
			log_warn("cannot set %s", path);
		else
			log_notice("set promote_secondaries on %s for vip "
			    "prefix /%d", v->ifname, v->prefixlen);
		if (fd != -1)
			close(fd);
	}
}

static void
check_done(enum job_kind kind, int status)
{
	struct fo_conf		*conf = mon.conf;
	struct conf_cmd		*c = conf->check;

	(void)kind;
	if (c == NULL)
		return;
	if (status == 0) {
		check_fail = 0;
		if (check_bad && ++check_good >= (int)c->rise) {
			check_bad = 0;
			log_notice("check: healthy after %d good checks",
			    check_good);
			role_fault_send(FAULT_CHECK, 1, "check healthy");
		}
		return;
	}
	check_good = 0;
	if (check_bad || ++check_fail < (int)c->fall)
		return;
	check_bad = 1;
	role_fault_send(FAULT_CHECK, 0, "check failed %d times", check_fail);
}

static void
monitor_check(void)
{
	struct conf_cmd	*c = mon.conf->check;

	if (c == NULL || stopping)
		return;
	timer_set(&mtimers, MT_CHECK, c->interval);
	/* one at a time: a check does not queue behind a hook */
	if (hooks_busy() || mon.role == ROLE_DEMOTING)
		return;
	hooks_run(JOB_CHECK, c, role_name(mon.role), mon.epoch, c->interval,
	    0, check_done);
}

static void
monitor_signal(int sig)
{
	char	 msg[CTL_MSG_LEN];

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (stopping) {
			log_notice("received signal %d again, exiting now",
			    sig);
			quit = 1;
			break;
		}
		log_notice("received signal %d, shutting down", sig);
		monitor_stop();
		break;
	case SIGHUP:
		log_notice("SIGHUP: reloading the configuration");
		config_reload(msg, sizeof(msg));
		break;
	case SIGCHLD:
		monitor_reap();
		break;
	}
}

/*
 * How a child ended: "lost child: NAME (...)" when its end is what we
 * learn first, "NAME ended: ..." when it is reaped in the shutdown that
 * the close of its socket began.  The signal is named: SIGSYS is the
 * sandbox refusing a system call.
 */
static void
child_ended(enum proc_id id, int status, int lost)
{
	char	 how[80];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d, %s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (lost || WEXITSTATUS(status) != 0)
		snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(status));
	else
		return;
	if (lost)
		log_warnx("lost child: %s (%s)", proc_name(id), how);
	else
		log_warnx("%s ended: %s", proc_name(id), how);
}

/* A child that exits ends the daemon: systemd restarts the whole of it. */
static void
monitor_reap(void)
{
	pid_t	 pid;
	int	 status, id;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (hooks_reap(pid, status))
			continue;
		for (id = PROC_MONITOR + 1; id < PROC_MAX; id++)
			if (children[id].running && children[id].pid == pid)
				break;
		if (id == PROC_MAX)
			continue;
		children[id].running = 0;
		child_ended(id, status, 1);
		monitor_shutdown(1);
	}
}

/*
 * SIGTERM: an active node hands over first (on-standby, release with
 * handover to the best standby), then heartbeatd logs its stop.
 */
static void
monitor_stop(void)
{
	struct demote_msg	 d;
	struct fo_conf		*conf = mon.conf;
	uint64_t		 limit;

	stopping = 1;
	notify_stopping();
	hooks_cancel(JOB_CHECK);
	timer_stop(&mtimers, MT_CHECK);
	limit = 4ULL * conf->timing.timeout + 2000 +
	    (conf->on_standby ? conf->on_standby->timeout : 0);
	timer_set(&mtimers, MT_STOP, limit);
	if (mon.role == ROLE_ACTIVE) {
		memset(&d, 0, sizeof(d));
		d.reason = DEMOTE_SHUTDOWN;
		strlcpy(d.detail, "shutdown", sizeof(d.detail));
		monitor_compose(PROC_HEARTBEAT, IMSG_DEMOTE, &d, sizeof(d));
	} else if (mon.role != ROLE_DEMOTING) {
		stopping = 2;
		monitor_compose(PROC_HEARTBEAT, IMSG_STOP, NULL, 0);
	}
}

static __dead void
monitor_shutdown(int code)
{
	uint64_t	 deadline;
	pid_t		 pid;
	int		 id, status, left;

	quit = 1;
	notify_stopping();
	control_cleanup(mon.conf->ctl_socket);
	hooks_kill_all();
	for (id = PROC_MONITOR + 1; id < PROC_MAX; id++) {
		if (children[id].pid == 0)
			continue;
		/* a child whose socket closes exits at once */
		imsgbuf_clear(&children[id].ibuf);
		close(children[id].ibuf.fd);
	}
	deadline = timer_now() + SHUTDOWN_WAIT;
	do {
		left = 0;
		for (id = PROC_MONITOR + 1; id < PROC_MAX; id++) {
			if (!children[id].running)
				continue;
			pid = waitpid(children[id].pid, &status, WNOHANG);
			if (pid == children[id].pid) {
				children[id].running = 0;
				child_ended(id, status, 0);
			} else
				left++;
		}
		if (left)
			usleep(10000);
	} while (left && timer_now() < deadline);
	for (id = PROC_MONITOR + 1; id < PROC_MAX; id++)
		if (children[id].running) {
			log_warnx("%s did not exit, killing it", proc_name(id));
			kill(children[id].pid, SIGKILL);
			waitpid(children[id].pid, &status, 0);
		}
	log_notice("terminating");
	config_free(mon.conf);
	exit(code);
}

void
monitor_log_verbose(int v)
{
	struct log_verbose_msg	 lv = { v };
	int			 id;

	log_setverbose(v);
	for (id = PROC_MONITOR + 1; id < PROC_MAX; id++)
		if (children[id].running)
			monitor_compose_fd(id, IMSG_LOG_VERBOSE, -1, &lv,
			    sizeof(lv));
}
