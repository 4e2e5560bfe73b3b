/*
 * failoverd: the monitor.  It reads the configuration and the keys, starts
 * the unprivileged children, serves the control socket and orchestrates;
 * it does no network I/O itself.
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
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "monitor.h"
#include "proc.h"
#include "timer.h"
#include "util.h"

#define POLL_MAX	(PROC_MAX + 64 + 2)
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
	MT_KILL		/* demoting: t0 + L - S, the drop must be done */
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

extern char		**environ;

static __dead void	 usage(void);
static void		 monitor_start_children(void);
static void		 monitor_send_config(void);
static void		 monitor_dispatch_child(enum proc_id);
static void		 monitor_signal(int);
static void		 monitor_reap(void);
static __dead void	 monitor_shutdown(int);
static void		 monitor_runtime_dirs(void);
static void		 monitor_stop(void);
static void		 monitor_check(void);
static void		 monitor_timers(void);
static void		 monitor_promote_secondaries(void);

static __dead void
usage(void)
{
	fprintf(stderr, "usage: failoverd [-dnv] [-f file] [-N node] "
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
	int		 ch, noaction = 0, sigfd, i, npfd, nctl, id;

	setproctitle_init(argc, argv, environ);
	if (strcmp(getprogname(), "failoverctl") == 0)
		return (ctl_main(argc, argv));

	while ((ch = getopt(argc, argv, "+df:nN:P:s:v")) != -1) {
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
	if ((conf = parse_config(conffile, node, conf_flags)) == NULL)
		exit(1);
	if (sock_override != NULL) {
		free(conf->ctl_socket);
		if ((conf->ctl_socket = strdup(sock_override)) == NULL)
			err(1, NULL);
	}
	if (noaction) {
		if (opt_verbose)
			printconf(stdout, conf);
		fprintf(stderr, "configuration OK\n");
		free_config(conf);
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
	if (!opt_debug && daemon(0, 0) == -1)
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

	timer_init(&mtimers);
	hooks_init(&mtimers, MT_JOB);
	role_init(&mtimers, MT_DEMOTE, MT_KILL);
	if (control_init(conf->ctl_socket, conf->ctl_group) == -1)
		fatalx("cannot open control socket %s", conf->ctl_socket);
	log_notice("starting: node %s, cluster %s, configuration %s",
	    conf->node, conf->cluster, conf->file);
	monitor_promote_secondaries();
	monitor_start_children();
	monitor_send_config();
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
		nctl = control_pollfds(pfd + npfd, POLL_MAX - npfd);
		if (poll(pfd, npfd + nctl, -1) == -1) {
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
		control_dispatch(pfd + npfd, nctl);
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

/*
 * dnsd's part: the TSIG secret decoded from the configuration or from
 * its secret-file (the base64 secret alone, or a BIND key file with a
 * secret "..." line, as tsig-keygen writes it).
 */
static void	 forget_dns_secret(struct fo_conf *);

static void
dns_conf(struct fo_conf *conf, struct conf_dns_msg *dm)
{
	struct conf_hostname	*h = conf->hostname;
	struct conf_node	*n;
	char			 buf[1024], *s, *e;
	size_t			 len;
	FILE			*f;

	memset(dm, 0, sizeof(*dm));
	strlcpy(dm->name, h->name, sizeof(dm->name));
	strlcpy(dm->zone, h->zone, sizeof(dm->zone));
	strlcpy(dm->keyname, h->keyname, sizeof(dm->keyname));
	dm->server = h->server;
	dm->port = h->port;
	dm->ttl = h->ttl;
	TAILQ_FOREACH(n, &conf->nodes, entry)
		if (strcmp(n->name, conf->node) == 0)
			dm->addr = n->addr;
	if (h->secret != NULL)
		strlcpy(buf, h->secret, sizeof(buf));
	else {
		if ((f = fopen(h->secret_file, "re")) == NULL)
			fatal("hostname %s: secret-file %s", h->name,
			    h->secret_file);
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
	}
	s = buf;
	if ((e = strstr(buf, "secret \"")) != NULL) {
		s = e + 8;
		if ((e = strchr(s, '"')) != NULL)
			*e = '\0';
	}
	s += strspn(s, " \t\r\n");
	s[strcspn(s, " \t\r\n")] = '\0';
	if (sodium_base642bin(dm->secret, sizeof(dm->secret), s, strlen(s),
	    NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || len == 0)
		fatalx("hostname %s: the TSIG secret is not base64 (of at "
		    "most %zu bytes)", h->name, sizeof(dm->secret));
	dm->secretlen = len;
	sodium_memzero(buf, sizeof(buf));
	forget_dns_secret(conf);
}

/* The TSIG secret lives in dnsd (and its file), not in the monitor. */
static void
forget_dns_secret(struct fo_conf *conf)
{
	if (conf->hostname != NULL && conf->hostname->secret != NULL)
		sodium_memzero(conf->hostname->secret,
		    strlen(conf->hostname->secret));
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
		if (imsgbuf_init(&c->ibuf, fd) == -1)
			fatal("imsgbuf_init");
		imsgbuf_allow_fdpass(&c->ibuf);
		c->running = 1;
		log_debug("started %s, pid %d", proc_name(order[i]), c->pid);
	}
}

static void
compose(enum proc_id id, uint32_t type, int fd, const void *data, size_t len)
{
	if (imsg_compose(&children[id].ibuf, type, 0, 0, fd, data, len) == -1)
		fatal("imsg_compose to %s", proc_name(id));
}

void
monitor_compose(enum proc_id id, uint32_t type, const void *data, size_t len)
{
	if (!children[id].running)
		return;
	compose(id, type, -1, data, len);
}

static void
peer_from_node(struct conf_peer *p, struct conf_node *n)
{
	memset(p, 0, sizeof(*p));
	strlcpy(p->name, n->name, sizeof(p->name));
	p->addr = n->addr;
	p->priority = n->priority;
	p->port = n->port;
	p->npubkeys = n->npubkeys;
	memcpy(p->pubkey, n->pubkey, sizeof(p->pubkey));
}

/* Each child gets its part of the configuration, and no more. */
static void
monitor_send_config(void)
{
	struct fo_conf		*conf = mon.conf;
	struct conf_heartbeat	 hb;
	struct conf_peer	 peer;
	struct conf_net		 net;
	struct conf_vip_msg	 vm;
	struct conf_sync_msg	 sm;
	struct conf_dir_msg	 dm;
	struct conf_node	*n;
	struct conf_vip		*v;
	struct conf_dir		*d;
	struct conf_pattern	*p;
	char			 errbuf[PATH_LEN + 128];
	uint32_t		 idx = 0;
	int			 fd;

	memset(&hb, 0, sizeof(hb));
	strlcpy(hb.cluster, conf->cluster, sizeof(hb.cluster));
	strlcpy(hb.node, conf->node, sizeof(hb.node));
	strlcpy(hb.conninfo, conf->database, sizeof(hb.conninfo));
	hb.timing = conf->timing;
	hb.preempt = conf->preempt;
	hb.preempt_delay = conf->preempt_delay;
	hb.priority = conf->self->priority;
	compose(PROC_HEARTBEAT, IMSG_CONF_HEARTBEAT, -1, &hb, sizeof(hb));
	explicit_bzero(&hb, sizeof(hb));
	TAILQ_FOREACH(n, &conf->nodes, entry) {
		peer_from_node(&peer, n);
		compose(PROC_HEARTBEAT, IMSG_CONF_NODE, -1, &peer,
		    sizeof(peer));
	}
	compose(PROC_HEARTBEAT, IMSG_CONF_END, -1, NULL, 0);

	memset(&net, 0, sizeof(net));
	net.timing = conf->timing;
	net.garp_type = conf->garp_type;
	net.garp_count = conf->garp_count;
	net.garp_interval = conf->garp_interval;
	net.garp_refresh = conf->garp_refresh;
	net.probe = conf->probe;
	net.probe_wait = conf->probe_wait;
	net.nvips = conf->nvips;
	compose(PROC_NET, IMSG_CONF_NET, -1, &net, sizeof(net));
	TAILQ_FOREACH(v, &conf->vips, entry) {
		memset(&vm, 0, sizeof(vm));
		vm.index = idx++;
		vm.addr = v->addr;
		vm.prefixlen = v->prefixlen;
		strlcpy(vm.ifname, v->ifname, sizeof(vm.ifname));
		strlcpy(vm.label, v->label, sizeof(vm.label));
		compose(PROC_NET, IMSG_CONF_VIP, -1, &vm, sizeof(vm));
	}
	compose(PROC_NET, IMSG_CONF_END, -1, NULL, 0);

	memset(&sm, 0, sizeof(sm));
	strlcpy(sm.node, conf->node, sizeof(sm.node));
	strlcpy(sm.cluster, conf->cluster, sizeof(sm.cluster));
	strlcpy(sm.user, conf->sync != NULL ? conf->sync->user :
	    FAILOVERD_USER, sizeof(sm.user));
	if (conf->sync != NULL) {
		sm.listen = conf->sync->listen;
		sm.port = conf->sync->port;
		sm.interval = conf->sync->interval;
		sm.delay = conf->sync->delay;
		sm.max_delete = conf->sync->max_delete;
		sm.alert_after = conf->sync->alert_after;
		if (key_file_read(conf->sync->key_file, sm.secret, 1, errbuf,
		    sizeof(errbuf)) == -1)
			fatalx("sync key-file: %s", errbuf);
		TAILQ_FOREACH(d, &conf->sync->dirs, entry)
			sm.ndirs++;
	}
	compose(PROC_SYNC, IMSG_CONF_SYNC, -1, &sm, sizeof(sm));
	sodium_memzero(&sm, sizeof(sm));
	if (conf->sync != NULL) {
		TAILQ_FOREACH(n, &conf->nodes, entry) {
			peer_from_node(&peer, n);
			compose(PROC_SYNC, IMSG_CONF_PEER, -1, &peer,
			    sizeof(peer));
		}
		idx = 0;
		TAILQ_FOREACH(d, &conf->sync->dirs, entry) {
			if ((fd = open(d->path, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC)) == -1)
				fatal("sync directory %s", d->path);
			memset(&dm, 0, sizeof(dm));
			dm.index = idx;
			strlcpy(dm.path, d->path, sizeof(dm.path));
			compose(PROC_SYNC, IMSG_CONF_DIR, fd, &dm, sizeof(dm));
			TAILQ_FOREACH(p, &d->excludes, entry) {
				strlcpy(dm.path, p->pattern, sizeof(dm.path));
				compose(PROC_SYNC, IMSG_CONF_EXCLUDE, -1, &dm,
				    sizeof(dm));
			}
			idx++;
		}
	}
	compose(PROC_SYNC, IMSG_CONF_END, -1, NULL, 0);

	if (conf->hostname != NULL) {
		struct conf_dns_msg	 dm2;

		dns_conf(conf, &dm2);
		compose(PROC_DNS, IMSG_CONF_DNS, -1, &dm2, sizeof(dm2));
		sodium_memzero(&dm2, sizeof(dm2));
		compose(PROC_DNS, IMSG_CONF_END, -1, NULL, 0);
	}
}

/* the start sequence: on-standby with FAILOVER_ROLE=starting */
static void
start_hook_done(enum job_kind kind, int status)
{
	struct ok_msg	 o;

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
	struct lease_msg lm;
	struct seen_msg	 sm;
	struct db_msg	 dbm;
	struct ok_msg	 o;
	struct hist_msg	 hm;
	uint32_t	 type;
	ssize_t		 n;

	if ((n = imsgbuf_read(&c->ibuf)) == -1) {
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
		case IMSG_SYNC_FINAL:
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
			if (++nready == nchildren)
				hooks_run(JOB_ON_STANDBY, conf->on_standby,
				    "starting", 0, conf->on_standby ?
				    conf->on_standby->timeout : 0, 0,
				    start_hook_done);
			break;
		case IMSG_ROLE:
			if (imsg_get_data(&imsg, &rm, sizeof(rm)) == -1 ||
			    rm.role >= ROLE_MAX)
				fatalx("bad IMSG_ROLE");
			rm.holder[sizeof(rm.holder) - 1] = '\0';
			rm.reason[sizeof(rm.reason) - 1] = '\0';
			role_change(&rm);
			/* a shutdown stops heartbeatd once the role is left */
			if (stopping == 1 && mon.role != ROLE_ACTIVE &&
			    mon.role != ROLE_DEMOTING) {
				stopping = 2;
				monitor_compose(PROC_HEARTBEAT, IMSG_STOP,
				    NULL, 0);
			}
			break;
		case IMSG_LEASE_RENEWED:
			if (imsg_get_data(&imsg, &lm, sizeof(lm)) == -1)
				fatalx("bad IMSG_LEASE_RENEWED");
			role_renewed(&lm);
			break;
		case IMSG_LEASE_SEEN:
			if (imsg_get_data(&imsg, &sm, sizeof(sm)) == -1)
				fatalx("bad IMSG_LEASE_SEEN");
			sm.holder[sizeof(sm.holder) - 1] = '\0';
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
			if (imsg_get_data(&imsg, &dbm, sizeof(dbm)) == -1)
				fatalx("bad IMSG_DB_STATE");
			dbm.error[sizeof(dbm.error) - 1] = '\0';
			if (mon.db_up && !dbm.up)
				alert("db-down", "%s", dbm.error);
			mon.db_up = dbm.up;
			strlcpy(mon.db_error, dbm.error, sizeof(mon.db_error));
			break;
		case IMSG_NODES: {
			uint32_t	 i;

			if (imsg_get_data(&imsg, &mon.nodes,
			    sizeof(mon.nodes)) == -1 ||
			    mon.nodes.n > MAX_NODES)
				fatalx("bad IMSG_NODES");
			for (i = 0; i < MAX_NODES; i++)
				mon.nodes.e[i].node[NAME_LEN - 1] = '\0';
			break;
		}
		case IMSG_HISTORY_LINE:
		case IMSG_REQ_RESULT:
			if (imsg_get_data(&imsg, &hm, sizeof(hm)) == -1)
				fatalx("bad message %u", type);
			hm.line[sizeof(hm.line) - 1] = '\0';
			control_forward(type, hm.id, &hm, sizeof(hm));
			break;
		case IMSG_SYNC_FINAL:
			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1)
				fatalx("bad IMSG_SYNC_FINAL");
			o.reason[sizeof(o.reason) - 1] = '\0';
			role_sync_final(&o);
			break;
		case IMSG_SYNC_STATUS: {
			uint32_t	 i;

			if (imsg_get_data(&imsg, &mon.sync,
			    sizeof(mon.sync)) == -1 ||
			    mon.sync.npeers > MAX_SYNC_PEERS)
				fatalx("bad IMSG_SYNC_STATUS");
			mon.sync.last_error[FAULT_LEN - 1] = '\0';
			for (i = 0; i < MAX_SYNC_PEERS; i++) {
				mon.sync.peer[i].node[NAME_LEN - 1] = '\0';
				mon.sync.peer[i].state[15] = '\0';
				mon.sync.peer[i].error[FAULT_LEN - 1] = '\0';
			}
			break;
		}
		case IMSG_DNS_RESULT:
			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1)
				fatalx("bad IMSG_DNS_RESULT");
			o.reason[sizeof(o.reason) - 1] = '\0';
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
		case IMSG_SYNC_ALERT: {
			struct sync_alert_msg	 am;

			if (imsg_get_data(&imsg, &am, sizeof(am)) == -1)
				fatalx("bad IMSG_SYNC_ALERT");
			am.name[sizeof(am.name) - 1] = '\0';
			am.detail[sizeof(am.detail) - 1] = '\0';
			if (strcmp(am.name, "sync-failed") != 0 &&
			    strcmp(am.name, "peer-down") != 0)
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
		case IMSG_VIP_BOUND:
			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1)
				fatalx("bad IMSG_VIP_BOUND");
			o.reason[sizeof(o.reason) - 1] = '\0';
			role_vip_bound(&o);
			break;
		case IMSG_VIP_EXTENDED:
			if (imsg_get_data(&imsg, &lm, sizeof(lm)) == -1)
				fatalx("bad IMSG_VIP_EXTENDED");
			monitor_compose(PROC_HEARTBEAT, IMSG_VIP_EXTENDED, &lm,
			    sizeof(lm));
			break;
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
			    f.ok > 1)
				fatalx("bad IMSG_FAULT from netd");
			f.reason[sizeof(f.reason) - 1] = '\0';
			if (!f.ok)
				alert("fault", "%s", f.reason);
			/* passed on as it is: heartbeatd decides */
			monitor_compose(PROC_HEARTBEAT, IMSG_FAULT, &f,
			    sizeof(f));
			break;
		}
		case IMSG_VIP_DROPPED:
			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1)
				fatalx("bad IMSG_VIP_DROPPED");
			role_vip_dropped(&o);
			break;
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
		monitor_reload(msg, sizeof(msg));
		break;
	case SIGCHLD:
		monitor_reap();
		break;
	}
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
		if (WIFSIGNALED(status))
			log_warnx("lost child: %s (killed by signal %d)",
			    proc_name(id), WTERMSIG(status));
		else
			log_warnx("lost child: %s (exit %d)", proc_name(id),
			    WEXITSTATUS(status));
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
			if (pid == children[id].pid)
				children[id].running = 0;
			else
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
	free_config(mon.conf);
	exit(code);
}

/* Tell the user which line of the fixed part changed. */
static void
reload_diff(const char *a, const char *b, char *msg, size_t len)
{
	const char	*la = a, *lb = b;
	size_t		 na, nb;

	for (;;) {
		na = strcspn(la, "\n");
		nb = strcspn(lb, "\n");
		if (na != nb || strncmp(la, lb, na) != 0)
			break;
		if (la[na] == '\0' || lb[nb] == '\0')
			break;
		la += na + 1;
		lb += nb + 1;
	}
	snprintf(msg, len, "reload refused: \"%.*s\" changed to \"%.*s\"; "
	    "restart failoverd to apply it", (int)(na > 120 ? 120 : na), la,
	    (int)(nb > 120 ? 120 : nb), lb);
}

/*
 * Re-read the configuration.  Hooks, check, alerts and the log level may
 * change; anything else is refused with the reason, and a configuration
 * that does not parse leaves the old one in place.
 */
int
monitor_reload(char *msg, size_t len)
{
	struct fo_conf	*nconf, *oconf = mon.conf;
	char		*a, *b;
	int		 rc = -1;

	nconf = parse_config(oconf->file, oconf->node,
	    (conf_flags & CONF_NODEGIVEN) | CONF_QUIET);
	if (nconf == NULL) {
		snprintf(msg, len, "reload failed: %s has errors (see the "
		    "log); keeping the old configuration", oconf->file);
		log_warnx("%s", msg);
		return (-1);
	}
	if (sock_override != NULL) {
		free(nconf->ctl_socket);
		if ((nconf->ctl_socket = strdup(sock_override)) == NULL)
			fatal(NULL);
	}
	a = printconf_part(oconf, PART_FIXED);
	b = printconf_part(nconf, PART_FIXED);
	if (strcmp(a, b) != 0)
		reload_diff(a, b, msg, len);
	else if (strcmp(oconf->database, nconf->database) != 0)
		snprintf(msg, len, "reload refused: the database changed; "
		    "restart failoverd to apply it");
	else {
		struct conf_dir	*x, *y;

		rc = 0;
		if (oconf->sync != NULL) {
			y = TAILQ_FIRST(&nconf->sync->dirs);
			TAILQ_FOREACH(x, &oconf->sync->dirs, entry) {
				if (y == NULL || strcmp(x->path, y->path) != 0)
					break;
				y = TAILQ_NEXT(y, entry);
			}
			if (x != NULL || y != NULL) {
				snprintf(msg, len, "reload refused: the sync "
				    "directories changed; restart failoverd "
				    "to apply it");
				rc = -1;
			}
		}
	}
	free(a);
	free(b);
	if (rc == -1) {
		log_warnx("%s", msg);
		free_config(nconf);
		return (-1);
	}
	forget_dns_secret(nconf);
	mon.conf = nconf;
	free_config(oconf);
	snprintf(msg, len, "configuration reloaded");
	log_notice("%s from %s", msg, nconf->file);
	return (0);
}

void
monitor_log_verbose(int v)
{
	int	 id;

	log_setverbose(v);
	for (id = PROC_MONITOR + 1; id < PROC_MAX; id++)
		if (children[id].running)
			compose(id, IMSG_LOG_VERBOSE, -1, &v, sizeof(v));
}
