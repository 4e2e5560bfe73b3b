/*
 * The configuration once parse.y has read it (failoverd.conf(5)): the
 * checks of meaning, each child's part sent to it (with the secrets
 * decoded from their files), a reload, and freeing.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "monitor.h"
#include "util.h"

static int			 load_flags;	/* of the first load */
static const char		*load_sock;	/* -s, over the file's */
static int			 check_flags;
static const struct conf_where	*check_end;
static const struct conf_where	*check_at;

static void	 forget_dns_secret(struct fo_conf *);
static void	 cmd_clear(struct conf_cmd *);

/*
 * Read and check the configuration; the control socket given with -s
 * replaces the file's.  A reload reads it again with the same flags.
 */
struct fo_conf *
config_load(const char *file, const char *node, int flags, const char *sock)
{
	struct fo_conf	*conf;

	if (!(flags & CONF_QUIET)) {
		load_flags = flags;
		load_sock = sock;
	}
	if ((conf = parse_config(file, node, flags)) == NULL)
		return (NULL);
	if (sock != NULL) {
		free(conf->ctl_socket);
		if ((conf->ctl_socket = strdup(sock)) == NULL)
			fatal(NULL);
	}
	return (conf);
}

/* Messages from now on name this statement; NULL or unset: the end. */
static void
where_use(const struct conf_where *w)
{
	check_at = w != NULL && w->file != NULL ? w : check_end;
}

/* As parse.y's yyerror and yywarn: "file:line: [warning: ]message". */
static void
vsay(int warn, const char *fmt, va_list ap)
{
	char	 msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (check_flags & CONF_QUIET)
		log_warnx("%s:%d: %s%s", check_at->file, check_at->line,
		    warn ? "warning: " : "", msg);
	else
		fprintf(stderr, "%s:%d: %s%s\n", check_at->file,
		    check_at->line, warn ? "warning: " : "", msg);
}

static void __attribute__((__format__ (printf, 2, 3)))
say(int warn, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsay(warn, fmt, ap);
	va_end(ap);
}

/* Warn with -n, fail at start: something the configuration names. */
static void __attribute__((__format__ (printf, 2, 3)))
missing(int *errors, const char *fmt, ...)
{
	va_list	 ap;
	int	 warn = (check_flags & CONF_CHECKONLY) != 0;

	va_start(ap, fmt);
	vsay(warn, fmt, ap);
	va_end(ap);
	if (!warn)
		(*errors)++;
}

/*
 * A command runs as root or the script user: its file and directory must
 * not be writable by anyone else (as keepalived's script security).
 */
/* One path and the directories above it: 0, or -1 with *errors counted. */
static int
check_chain(int *errors, const char *what, const char *cmd,
    const char *start, uid_t suid)
{
	struct stat	 st;
	char		 path[PATH_MAX], *p;

	if (strlcpy(path, start, sizeof(path)) >= sizeof(path)) {
		say(0, "%s %s: path too long", what, cmd);
		(*errors)++;
		return (-1);
	}
	while (path[0] != '\0') {
		if (stat(path, &st) == -1) {
			missing(errors, "%s %s: %s", what, cmd,
			    strerror(errno));
			return (-1);
		}
		/* a sticky root directory (/tmp) protects what root owns */
		if (S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
		    st.st_uid == 0)
			goto next;
		if ((st.st_uid != 0 && st.st_uid != suid) ||
		    (st.st_mode & (S_IWGRP | S_IWOTH))) {
			say(0, "%s %s: refused, %s is writable by someone "
			    "other than root and the script user", what, cmd,
			    path);
			(*errors)++;
			return (-1);
		}
next:
		if (strcmp(path, "/") == 0)
			break;
		if ((p = strrchr(path, '/')) == NULL)
			break;
		if (p == path)
			p[1] = '\0';
		else
			*p = '\0';
	}
	return (0);
}

static void
check_cmd(int *errors, const char *what, struct conf_cmd *cmd, uid_t suid)
{
	char	 real[PATH_MAX];

	if (cmd == NULL)
		return;
	where_use(&cmd->where);
	if (check_chain(errors, what, cmd->argv[0], cmd->argv[0], suid) == -1)
		return;
	/* a symlink is checked at its target too, and what holds that */
	if (realpath(cmd->argv[0], real) != NULL &&
	    strcmp(real, cmd->argv[0]) != 0)
		(void)check_chain(errors, what, cmd->argv[0], real, suid);
}

/*
 * The checks of meaning, after the grammar accepted the file: messages
 * name the statement, or the end of the file (end) for what is missing.
 */
int
config_check(struct fo_conf *conf, int flags, const struct conf_where *end)
{
	struct conf_node	*n;
	struct conf_vip		*v, *w;
	struct conf_alert	*a;
	struct fo_timing	*t = &conf->timing;
	struct passwd		*pw;
	char			 err[PATH_LEN + 128];
	char			 b1[ADDR_STRLEN], b2[ADDR_STRLEN];
	char			 d1[16], d2[16], d3[16], d4[16];
	uid_t			 suid = 0;
	int			 errors = 0, nnodes = 0;

	check_flags = flags;
	check_end = end;
	where_use(NULL);
	if (conf->cluster[0] == '\0') {
		say(0, "no cluster statement");
		errors++;
	}
	if (conf->database == NULL) {
		say(0, "no database statement");
		errors++;
	}
	TAILQ_FOREACH(n, &conf->nodes, entry) {
		nnodes++;
		if (strcmp(n->name, conf->node) == 0)
			conf->self = n;
	}
	if (nnodes == 0) {
		say(0, "no node block");
		errors++;
	} else if (conf->self == NULL) {
		if ((check_flags & CONF_CHECKONLY) &&
		    !(check_flags & CONF_NODEGIVEN))
			say(1, "no node block for this host (%s): give its "
			    "name with -N", conf->node);
		else {
			say(0, "no node block for this node (%s)",
			    conf->node);
			errors++;
		}
	}

	/* the timing rules failoverd.conf(5) documents */
	where_use(&conf->timing_where);
	if (t->interval == 0) {
		say(0, "heartbeat interval must not be 0");
		errors++;
	}
	if (t->timeout == 0) {
		say(0, "heartbeat timeout must not be 0");
		errors++;
	}
	if (t->slack < MIN_SLACK) {
		say(0, "heartbeat slack %s is less than %dms",
		    duration_str(t->slack, d1, sizeof(d1)), MIN_SLACK);
		errors++;
	}
	if (t->margin <= t->slack) {
		say(0, "heartbeat margin %s must be more than slack %s",
		    duration_str(t->margin, d1, sizeof(d1)),
		    duration_str(t->slack, d2, sizeof(d2)));
		errors++;
	}
	if ((uint64_t)t->dead < (uint64_t)t->margin + 2ULL * t->interval +
	    t->timeout) {
		say(0, "heartbeat dead %s - margin %s is less than "
		    "2 x interval %s + timeout %s",
		    duration_str(t->dead, d1, sizeof(d1)),
		    duration_str(t->margin, d2, sizeof(d2)),
		    duration_str(t->interval, d3, sizeof(d3)),
		    duration_str(t->timeout, d4, sizeof(d4)));
		errors++;
	}

	TAILQ_FOREACH(v, &conf->vips, entry)
		for (w = TAILQ_NEXT(v, entry); w != NULL;
		    w = TAILQ_NEXT(w, entry))
			if (v->addr.af == w->addr.af &&
			    memcmp(&v->addr.a, &w->addr.a, v->addr.af ==
			    AF_INET ? 4 : 16) == 0) {
				say(0, "vip %s given twice", addr_str(&v->addr,
				    b1, sizeof(b1)));
				errors++;
			}
	(void)b2;

	if (conf->hostname != NULL) {
		struct conf_hostname *h = conf->hostname;

		where_use(&h->where);
		if (!h->server_set) {
			say(0, "hostname %s: no server", h->name);
			errors++;
		}
		if (h->zone == NULL) {
			say(0, "hostname %s: no zone", h->name);
			errors++;
		}
		if (h->keyname == NULL) {
			say(0, "hostname %s: no key", h->name);
			errors++;
		}
		if ((h->secret == NULL) == (h->secret_file == NULL)) {
			say(0, "hostname %s: give either secret or "
			    "secret-file", h->name);
			errors++;
		}
		if (h->secret_file != NULL &&
		    file_secure(h->secret_file, 1, err, sizeof(err)) == -1)
			missing(&errors, "secret-file %s", err);
	}

	if (conf->sync != NULL) {
		where_use(&conf->sync->where);
		if (TAILQ_EMPTY(&conf->sync->dirs)) {
			say(0, "sync: no directory");
			errors++;
		}
		if (conf->sync->key_file == NULL) {
			say(0, "sync: no key-file");
			errors++;
		} else if (file_secure(conf->sync->key_file, 1, err,
		    sizeof(err)) == -1)
			missing(&errors, "key-file %s", err);
		TAILQ_FOREACH(n, &conf->nodes, entry)
			if (n->npubkeys == 0) {
				say(0, "node \"%s\": sync needs its "
				    "public-key", n->name);
				errors++;
			}
		if ((pw = getpwnam(conf->sync->user)) == NULL)
			missing(&errors, "sync user %s does not exist",
			    conf->sync->user);
		else if (pw->pw_uid == 0) {
			say(0, "sync user %s: syncd must not run as root",
			    conf->sync->user);
			errors++;
		}
	}

	where_use(&conf->ctl_where);
	if (getgrnam(conf->ctl_group) == NULL)
		missing(&errors, "control group %s does not exist",
		    conf->ctl_group);
	where_use(&conf->user_where);
	if ((pw = getpwnam(conf->script_user)) == NULL)
		missing(&errors, "script-user %s does not exist",
		    conf->script_user);
	else
		suid = pw->pw_uid;
	check_cmd(&errors, "on-active", conf->on_active, suid);
	check_cmd(&errors, "on-standby", conf->on_standby, suid);
	check_cmd(&errors, "on-fault", conf->on_fault, suid);
	check_cmd(&errors, "check", conf->check, suid);
	TAILQ_FOREACH(a, &conf->alerts, entry) {
		if (a->type == ALERT_COMMAND)
			check_cmd(&errors, "alert command", &a->cmd, suid);
		else if (a->from == NULL) {
			if (asprintf(&a->from, "failoverd@%s",
			    conf->node) == -1)
				fatal(NULL);
		}
	}
	return (errors);
}

/*
 * dnsd's part: the TSIG secret decoded from the configuration or from
 * its secret-file (the base64 secret alone, or a BIND key file with a
 * secret "..." line, as tsig-keygen writes it).
 */
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
		char	 err[PATH_LEN + 128];

		if ((f = fopen(h->secret_file, "re")) == NULL)
			fatal("hostname %s: secret-file %s", h->name,
			    h->secret_file);
		/* what is read is what is checked */
		if (file_secure_fd(fileno(f), h->secret_file, 1, err,
		    sizeof(err)) == -1)
			fatalx("hostname %s: secret-file %s", h->name, err);
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
void
config_send(struct fo_conf *conf)
{
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
	monitor_compose_fd(PROC_HEARTBEAT, IMSG_CONF_HEARTBEAT, -1, &hb, sizeof(hb));
	explicit_bzero(&hb, sizeof(hb));
	TAILQ_FOREACH(n, &conf->nodes, entry) {
		peer_from_node(&peer, n);
		monitor_compose_fd(PROC_HEARTBEAT, IMSG_CONF_NODE, -1, &peer,
		    sizeof(peer));
	}
	monitor_compose_fd(PROC_HEARTBEAT, IMSG_CONF_END, -1, NULL, 0);

	memset(&net, 0, sizeof(net));
	net.timing = conf->timing;
	net.garp_type = conf->garp_type;
	net.garp_count = conf->garp_count;
	net.garp_interval = conf->garp_interval;
	net.garp_refresh = conf->garp_refresh;
	net.probe = conf->probe;
	net.probe_wait = conf->probe_wait;
	net.nvips = conf->nvips;
	monitor_compose_fd(PROC_NET, IMSG_CONF_NET, -1, &net, sizeof(net));
	TAILQ_FOREACH(v, &conf->vips, entry) {
		memset(&vm, 0, sizeof(vm));
		vm.index = idx++;
		vm.addr = v->addr;
		vm.prefixlen = v->prefixlen;
		strlcpy(vm.ifname, v->ifname, sizeof(vm.ifname));
		strlcpy(vm.label, v->label, sizeof(vm.label));
		monitor_compose_fd(PROC_NET, IMSG_CONF_VIP, -1, &vm, sizeof(vm));
	}
	monitor_compose_fd(PROC_NET, IMSG_CONF_END, -1, NULL, 0);

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
		sm.attic_keep = conf->sync->attic_keep;
		sm.alert_after = conf->sync->alert_after;
		if (key_file_read(conf->sync->key_file, sm.secret, 1, errbuf,
		    sizeof(errbuf)) == -1)
			fatalx("sync key-file: %s", errbuf);
		TAILQ_FOREACH(d, &conf->sync->dirs, entry)
			sm.ndirs++;
	}
	monitor_compose_fd(PROC_SYNC, IMSG_CONF_SYNC, -1, &sm, sizeof(sm));
	sodium_memzero(&sm, sizeof(sm));
	if (conf->sync != NULL) {
		TAILQ_FOREACH(n, &conf->nodes, entry) {
			peer_from_node(&peer, n);
			monitor_compose_fd(PROC_SYNC, IMSG_CONF_PEER, -1, &peer,
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
			monitor_compose_fd(PROC_SYNC, IMSG_CONF_DIR, fd, &dm, sizeof(dm));
			TAILQ_FOREACH(p, &d->excludes, entry) {
				strlcpy(dm.path, p->pattern, sizeof(dm.path));
				monitor_compose_fd(PROC_SYNC, IMSG_CONF_EXCLUDE, -1, &dm,
				    sizeof(dm));
			}
			idx++;
		}
	}
	monitor_compose_fd(PROC_SYNC, IMSG_CONF_END, -1, NULL, 0);

	if (conf->hostname != NULL) {
		struct conf_dns_msg	 dm2;

		dns_conf(conf, &dm2);
		monitor_compose_fd(PROC_DNS, IMSG_CONF_DNS, -1, &dm2, sizeof(dm2));
		sodium_memzero(&dm2, sizeof(dm2));
		monitor_compose_fd(PROC_DNS, IMSG_CONF_END, -1, NULL, 0);
	}
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
config_reload(char *msg, size_t len)
{
	struct fo_conf	*nconf, *oconf = mon.conf;
	char		*a, *b;
	int		 rc = -1;

	nconf = config_load(oconf->file, oconf->node,
	    (load_flags & CONF_NODEGIVEN) | CONF_QUIET, load_sock);
	if (nconf == NULL) {
		snprintf(msg, len, "reload failed: %s has errors (see the "
		    "log); keeping the old configuration", oconf->file);
		log_warnx("%s", msg);
		return (-1);
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
		config_free(nconf);
		return (-1);
	}
	forget_dns_secret(nconf);
	mon.conf = nconf;
	config_free(oconf);
	snprintf(msg, len, "configuration reloaded");
	log_notice("%s from %s", msg, nconf->file);
	return (0);
}

/* A hook, check or alert command: what it holds, and itself. */
void
config_cmd_free(struct conf_cmd *cmd)
{
	cmd_clear(cmd);
	free(cmd);
}

static void
where_free(struct conf_where *w)
{
	free(w->file);
	w->file = NULL;
}

static void
cmd_clear(struct conf_cmd *cmd)
{
	char	**p;

	if (cmd == NULL)
		return;
	where_free(&cmd->where);
	free(cmd->line);
	for (p = cmd->argv; p != NULL && *p != NULL; p++)
		free(*p);
	free(cmd->argv);
}

void
config_free(struct fo_conf *c)
{
	struct conf_node	*n;
	struct conf_vip		*v;
	struct conf_dir		*d;
	struct conf_pattern	*p;
	struct conf_alert	*a;

	if (c == NULL)
		return;
	while ((n = TAILQ_FIRST(&c->nodes)) != NULL) {
		TAILQ_REMOVE(&c->nodes, n, entry);
		free(n);
	}
	while ((v = TAILQ_FIRST(&c->vips)) != NULL) {
		TAILQ_REMOVE(&c->vips, v, entry);
		free(v);
	}
	if (c->database != NULL) {
		explicit_bzero(c->database, strlen(c->database));
		free(c->database);
	}
	if (c->hostname != NULL) {
		free(c->hostname->name);
		free(c->hostname->zone);
		free(c->hostname->keyname);
		if (c->hostname->secret != NULL) {
			explicit_bzero(c->hostname->secret,
			    strlen(c->hostname->secret));
			free(c->hostname->secret);
		}
		free(c->hostname->secret_file);
		free(c->hostname->algorithm);
		where_free(&c->hostname->where);
		free(c->hostname);
	}
	if (c->sync != NULL) {
		while ((d = TAILQ_FIRST(&c->sync->dirs)) != NULL) {
			TAILQ_REMOVE(&c->sync->dirs, d, entry);
			while ((p = TAILQ_FIRST(&d->excludes)) != NULL) {
				TAILQ_REMOVE(&d->excludes, p, entry);
				free(p->pattern);
				free(p);
			}
			free(d->path);
			free(d);
		}
		free(c->sync->key_file);
		free(c->sync->user);
		where_free(&c->sync->where);
		free(c->sync);
	}
	while ((a = TAILQ_FIRST(&c->alerts)) != NULL) {
		TAILQ_REMOVE(&c->alerts, a, entry);
		free(a->to);
		free(a->from);
		cmd_clear(&a->cmd);
		free(a);
	}
	config_cmd_free(c->on_active);
	config_cmd_free(c->on_standby);
	config_cmd_free(c->on_fault);
	config_cmd_free(c->check);
	free(c->ctl_socket);
	free(c->ctl_group);
	free(c->script_user);
	where_free(&c->ctl_where);
	where_free(&c->timing_where);
	where_free(&c->user_where);
	free(c);
}
