/*
 * heartbeatd: the lease protocol with PostgreSQL (DESIGN.md section 4).
 * It runs as _failoverd without capabilities under seccomp, owns the
 * lease and therefore decides the role; the monitor acts on its word.
 *
 * Only a statement that returns a row makes this process the holder.
 * The active node renews every H, and only after netd confirmed the
 * extension of the previous one; it demotes itself at t0 + L - M, where
 * t0 is when the last acknowledged renewal was sent.  A standby takes
 * over when the (epoch, beat) it watches has not moved for L on its own
 * CLOCK_BOOTTIME clock.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "heartbeatd.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "timer.h"

enum {
	T_TICK,		/* poll the row, touch our node row: every H */
	T_QUERY,	/* deadline of the statement or connection in flight */
	T_RECONNECT,
	T_DEADLINE,	/* active: t0 + L - M */
	T_TAKEOVER,	/* standby: the watched (epoch, beat) is dead */
	T_ACQUIRE,	/* standby: the free lease may be acquired */
	T_RENEW,
	T_STOP,		/* the stop event had its chance */
	T_SWITCH	/* a switchover did not happen within 2 L */
};

struct event {
	TAILQ_ENTRY(event)	 entry;
	char			 epoch[24];
	char			 name[16];
	char			 detail[FAULT_LEN];
};

struct histreq {
	TAILQ_ENTRY(histreq)	 entry;
	uint32_t		 id;
	int			 n;
};

static TAILQ_HEAD(, event)	 events = TAILQ_HEAD_INITIALIZER(events);
static TAILQ_HEAD(, histreq)	 histq = TAILQ_HEAD_INITIALIZER(histq);

static struct imsgbuf		 ibuf_main;
static struct timers		 timers;
static struct conf_heartbeat	 hconf;
static struct conf_peer		 nodes[MAX_NODES];
static int			 nnodes;
static int			 conf_state;
static char			 token[37];

static enum role		 role = ROLE_STARTING;
static int			 started;	/* the monitor's start is done */
static int			 maintenance;
static uint32_t			 fault_src;	/* HEALTH_*: what clears it */
static char			 reason[FAULT_LEN];

/* the lease as this process holds it */
static int64_t			 my_epoch = -1;
static uint64_t			 t0;
static int			 extended;	/* netd confirmed t0 */
static uint64_t			 next_renew_at;
static uint64_t			 grab_sent;	/* an acquire lost in flight */
static int			 renew_out;	/* a renewal in flight */

/* the row as last read */
static struct {
	int			 valid;
	char			 holder[NAME_LEN];
	char			 token[40];
	int64_t			 epoch;
	int64_t			 beat;
	char			 handover[NAME_LEN];
	uint32_t		 lease_ms;
	uint64_t		 seen_at;	/* reply first showing it */
} row;
static uint64_t			 free_seen_at;
static uint64_t			 may_take_at;

/* a demotion under way */
static struct {
	int			 on;
	int			 forced;
	int			 ok;
	int			 want_release;
	uint32_t		 reason;
	uint32_t		 id;		/* control request to answer */
	enum role		 then;
	char			 target[NAME_LEN];
	char			 detail[FAULT_LEN];
} dm;

/* a switchover waiting to be seen done */
static struct {
	uint32_t		 id;
	int			 want_handover;
	int64_t			 from_epoch;
	char			 target[NAME_LEN];
} sw;

static struct nodes_msg		 nodesm;
static uint64_t			 higher_since[MAX_NODES];
static int			 registered, logged_start, setup_step;
static int			 want_poll, want_takeover, want_acquire;
static int			 want_noderole, stopping;
static uint32_t			 backoff;

static void	 heartbeatd_dispatch(void);
static void	 work(void);
static void	 set_role(enum role, const char *);
static void	 lease_lost(const char *);
static void	 finish_demotion(void);

static void
send_main(uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&ibuf_main, type, 0, 0, -1, data, len) == -1)
		fatal("imsg_compose");
}

static void
req_result(uint32_t id, int code, const char *fmt, ...)
    __attribute__((__format__ (printf, 3, 4)));

static void
req_result(uint32_t id, int code, const char *fmt, ...)
{
	struct hist_msg	 hm;
	va_list		 ap;

	if (id == 0)
		return;
	memset(&hm, 0, sizeof(hm));
	hm.id = id;
	hm.n = code;
	va_start(ap, fmt);
	vsnprintf(hm.line, sizeof(hm.line), fmt, ap);
	va_end(ap);
	send_main(IMSG_REQ_RESULT, &hm, sizeof(hm));
}

static void
event_add(const char *name, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

/* Every transition is appended to failover_event, with its epoch. */
static void
event_add(const char *name, const char *fmt, ...)
{
	struct event	*e;
	va_list		 ap;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal(NULL);
	if (my_epoch >= 0)
		snprintf(e->epoch, sizeof(e->epoch), "%lld",
		    (long long)my_epoch);
	strlcpy(e->name, name, sizeof(e->name));
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
		va_end(ap);
	}
	TAILQ_INSERT_TAIL(&events, e, entry);
}

static void
make_token(void)
{
	uint8_t	 u[16];

	arc4random_buf(u, sizeof(u));
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(token, sizeof(token), "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4],
	    u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
	    u[15]);
}

static struct conf_peer *
node_conf(const char *name)
{
	int	 i;

	for (i = 0; i < nnodes; i++)
		if (strcmp(nodes[i].name, name) == 0)
			return (&nodes[i]);
	return (NULL);
}

/* Does a rank before b: higher priority, then the smaller name. */
static int
ranks_before(const struct conf_peer *a, const struct conf_peer *b)
{
	if (a->priority != b->priority)
		return (a->priority > b->priority);
	return (strcmp(a->name, b->name) < 0);
}

/* This node's rank among the nodes other than skip (the holder). */
static int
rank(const char *skip)
{
	struct conf_peer	*me = node_conf(hconf.node);
	int			 i, r = 0;

	for (i = 0; me != NULL && i < nnodes; i++)
		if (&nodes[i] != me && (skip == NULL ||
		    strcmp(nodes[i].name, skip) != 0) &&
		    ranks_before(&nodes[i], me))
			r++;
	return (r);
}

/* A standby that failover_node shows alive within L. */
static int
live_standby(const char *name)
{
	uint32_t	 i;

	for (i = 0; i < nodesm.n; i++)
		if (strcmp(nodesm.e[i].node, name) == 0)
			return (nodesm.e[i].role == ROLE_STANDBY &&
			    nodesm.e[i].seen_ms_ago >= 0 &&
			    nodesm.e[i].seen_ms_ago < hconf.timing.dead &&
			    node_conf(name) != NULL);
	return (0);
}

static const char *
best_standby(void)
{
	struct conf_peer	*best = NULL;
	int			 i;

	for (i = 0; i < nnodes; i++) {
		if (strcmp(nodes[i].name, hconf.node) == 0 ||
		    !live_standby(nodes[i].name))
			continue;
		if (best == NULL || ranks_before(&nodes[i], best))
			best = &nodes[i];
	}
	return (best != NULL ? best->name : NULL);
}

static void
send_role(int forced)
{
	struct role_msg	 rm;
	struct fo_timing *t = &hconf.timing;

	memset(&rm, 0, sizeof(rm));
	rm.role = role;
	rm.forced = forced;
	rm.epoch = my_epoch;
	rm.t0 = t0;
	if (role == ROLE_ACTIVE || role == ROLE_DEMOTING) {
		rm.demote_at = t0 + t->dead - t->margin;
		rm.kill_at = t0 + t->dead - t->slack;
	}
	strlcpy(rm.holder, row.holder, sizeof(rm.holder));
	strlcpy(rm.reason, reason, sizeof(rm.reason));
	send_main(IMSG_ROLE, &rm, sizeof(rm));
}

static void
send_seen(void)
{
	struct seen_msg	 sm;

	memset(&sm, 0, sizeof(sm));
	sm.epoch = row.valid ? row.epoch : -1;
	strlcpy(sm.holder, row.holder, sizeof(sm.holder));
	sm.may_take_at = may_take_at;
	send_main(IMSG_LEASE_SEEN, &sm, sizeof(sm));
}

static void
set_role(enum role r, const char *why)
{
	if (role == r && strcmp(reason, why != NULL ? why : "") == 0)
		return;
	role = r;
	strlcpy(reason, why != NULL ? why : "", sizeof(reason));
	want_noderole = 1;
	send_role(dm.on ? dm.forced : 0);
}

void
heartbeatd_main(int debug, int verbose)
{
	struct pollfd	 pfd[3];
	int		 n, dbfd;

	log_init(debug, verbose);
	log_procinit(proc_name(PROC_HEARTBEAT));
	proc_drop(PROC_HEARTBEAT, FAILOVERD_USER, NULL, 0);
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	timer_init(&timers);
	sandbox_seccomp(PROC_HEARTBEAT);
	if (imsgbuf_init(&ibuf_main, CHILD_FD) == -1)
		fatal("imsgbuf_init");
	make_token();

	for (;;) {
		if (conf_state == 2)
			work();
		if (db_query_deadline() != 0)
			timer_set_at(&timers, T_QUERY, db_query_deadline());
		else if (timer_running(&timers, T_QUERY))
			timer_stop(&timers, T_QUERY);

		pfd[0].fd = ibuf_main.fd;
		pfd[0].events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_main) > 0)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = timers.fd;
		pfd[1].events = POLLIN;
		n = 2;
		if ((dbfd = db_fd()) != -1) {
			pfd[2].fd = dbfd;
			pfd[2].events = db_events();
			n = 3;
		}
		if (poll(pfd, n, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		/* deadlines first: a late reply must not outlive the lease */
		if (pfd[1].revents & POLLIN) {
			timer_ack(&timers);
			if (timer_due(&timers, T_DEADLINE))
				lease_lost("lease deadline t0 + L - M passed");
			if (timer_due(&timers, T_QUERY))
				db_timeout();
			if (timer_due(&timers, T_RECONNECT))
				db_connect();
			if (timer_due(&timers, T_TICK)) {
				want_poll = 1;
				timer_set(&timers, T_TICK,
				    hconf.timing.interval);
			}
			if (timer_due(&timers, T_TAKEOVER))
				want_takeover = 1;
			if (timer_due(&timers, T_ACQUIRE))
				want_acquire = 1;
			(void)timer_due(&timers, T_RENEW);
			if (timer_due(&timers, T_SWITCH)) {
				req_result(sw.id, 1, "switchover to %s did "
				    "not happen within 2 x dead", sw.target);
				memset(&sw, 0, sizeof(sw));
			}
			if (timer_due(&timers, T_STOP)) {
				send_main(IMSG_STOPPED, NULL, 0);
				stopping = 2;
			}
		}
		if (n == 3 && pfd[2].revents)
			db_io(pfd[2].revents);
		if (pfd[0].revents & POLLOUT)
			proc_write(&ibuf_main);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			heartbeatd_dispatch();
	}
}

/* Decide the next statement when the connection is idle. */
static void
work(void)
{
	char		 lms[16], lmm[16], ep[24], beat[24], n[16];
	const char	*p[8];
	struct event	*e;
	struct histreq	*h;
	struct fo_timing *t = &hconf.timing;
	uint64_t	 now = now_ms();

	if (stopping == 1 && TAILQ_EMPTY(&events) && !dm.on &&
	    (db_state() != DB_READY || !db_busy())) {
		send_main(IMSG_STOPPED, NULL, 0);
		stopping = 2;
	}
	if (db_state() == DB_DOWN && !timer_running(&timers, T_RECONNECT) &&
	    db_fd() == -1)
		timer_set(&timers, T_RECONNECT, 0);
	if (db_setup_idle()) {
		if (setup_step == 0)
			db_send(Q_CHECK, 0, NULL);
		else if (setup_step == 1)
			db_send(Q_CREATE, 0, NULL);
		else
			db_send(Q_SESSION, 0, NULL);
		return;
	}
	if (db_state() != DB_READY || db_busy())
		return;

	snprintf(lms, sizeof(lms), "%u", t->dead);
	snprintf(lmm, sizeof(lmm), "%u", t->dead - t->margin);
	snprintf(ep, sizeof(ep), "%lld", (long long)my_epoch);
	p[0] = hconf.cluster;
	p[1] = hconf.node;

	if (!registered) {
		p[1] = lms;
		p[2] = hconf.node;
		p[3] = role_name(role == ROLE_STARTING ? ROLE_STANDBY : role);
		p[4] = token;
		db_send(Q_REGISTER, 5, p);
		return;
	}
	if (dm.want_release) {
		dm.want_release = 0;
		p[2] = token;
		p[3] = ep;
		p[4] = dm.target;
		p[5] = dm.detail;
		db_send(Q_RELEASE, 6, p);
		return;
	}
	if (want_takeover && role == ROLE_STANDBY && row.valid &&
	    row.holder[0] != '\0') {
		want_takeover = 0;
		snprintf(ep, sizeof(ep), "%lld", (long long)row.epoch);
		snprintf(beat, sizeof(beat), "%lld", (long long)row.beat);
		p[2] = token;
		p[3] = lms;
		p[4] = ep;
		p[5] = beat;
		p[6] = row.holder;
		grab_sent = now;
		db_send(Q_TAKEOVER, 7, p);
		return;
	}
	want_takeover = 0;
	if (want_acquire && role == ROLE_STANDBY && row.valid &&
	    row.holder[0] == '\0') {
		want_acquire = 0;
		snprintf(ep, sizeof(ep), "%lld", (long long)row.epoch);
		p[2] = token;
		p[3] = lms;
		p[4] = ep;
		p[5] = row.handover[0] ? "handed over" : "free lease";
		grab_sent = now;
		db_send(Q_ACQUIRE, 6, p);
		return;
	}
	want_acquire = 0;
	if ((role == ROLE_ACTIVE || (role == ROLE_DEMOTING && !dm.forced)) &&
	    extended) {
		if (now >= t0 + t->dead - t->margin) {
			lease_lost("lease deadline t0 + L - M passed");
			return;
		}
		if (now >= next_renew_at) {
			p[2] = token;
			p[3] = lms;
			p[4] = ep;
			p[5] = lmm;
			extended = 0;
			renew_out = 1;
			db_send(Q_RENEW, 6, p);
			return;
		}
		timer_set_at(&timers, T_RENEW, next_renew_at);
	}
	if (sw.want_handover) {
		sw.want_handover = 0;
		p[1] = sw.target;
		p[2] = hconf.node;
		db_send(Q_HANDOVER, 3, p);
		return;
	}
	if (want_noderole) {
		want_noderole = 0;
		p[2] = role_name(role);
		p[3] = token;
		db_send(Q_NODEROLE, 4, p);
		return;
	}
	if ((e = TAILQ_FIRST(&events)) != NULL) {
		p[2] = e->epoch;
		p[3] = e->name;
		p[4] = e->detail;
		db_send(Q_EVENT, 5, p);
		return;
	}
	if (want_poll) {
		want_poll = 0;
		p[2] = role_name(role);
		p[3] = token;
		db_send(Q_POLL, 4, p);
		return;
	}
	if ((h = TAILQ_FIRST(&histq)) != NULL) {
		snprintf(n, sizeof(n), "%d", h->n);
		p[1] = n;
		db_send(Q_HISTORY, 2, p);
		return;
	}
}

void
lease_connected(void)
{
	setup_step = 0;
	registered = 0;
	log_info("database: connected");
}

void
lease_db_down(const char *err)
{
	struct histreq	*h;
	struct db_msg	 m;
	struct fo_timing *t = &hconf.timing;
	uint32_t	 cap;

	log_warnx("database: %s", err);
	memset(&m, 0, sizeof(m));
	m.up = 0;
	strlcpy(m.error, err, sizeof(m.error));
	send_main(IMSG_DB_STATE, &m, sizeof(m));
	registered = 0;
	/* reconnect soon: an active node has L - M to renew */
	cap = (t->dead - t->margin) / 4;
	if (cap < t->interval)
		cap = t->interval;
	backoff = backoff == 0 ? 100 : backoff * 2;
	if (backoff > cap)
		backoff = cap;
	timer_set(&timers, T_RECONNECT, backoff);
	/* a renewal lost with the connection may be sent again: t0 holds */
	if (renew_out) {
		renew_out = 0;
		extended = 1;
	}
	while ((h = TAILQ_FIRST(&histq)) != NULL) {
		TAILQ_REMOVE(&histq, h, entry);
		req_result(h->id, 1, "history: %s", err);
		free(h);
	}
	if (dm.on && dm.ok && !dm.want_release)
		finish_demotion();
	if (stopping == 1) {
		send_main(IMSG_STOPPED, NULL, 0);
		stopping = 2;
	}
}

void
lease_notified(void)
{
	want_poll = 1;
}

static void
become_active(int64_t epoch, uint64_t sent, const char *how)
{
	struct fo_timing *t = &hconf.timing;

	my_epoch = epoch;
	t0 = sent;
	extended = 0;
	grab_sent = 0;
	next_renew_at = sent + t->interval;
	memset(&dm, 0, sizeof(dm));
	timer_stop(&timers, T_TAKEOVER);
	timer_stop(&timers, T_ACQUIRE);
	timer_set_at(&timers, T_DEADLINE, t0 + t->dead - t->margin);
	strlcpy(row.holder, hconf.node, sizeof(row.holder));
	log_notice("%s: active at epoch %lld", how, (long long)epoch);
	set_role(ROLE_ACTIVE, how);
	send_seen();
	if (now_ms() >= t0 + t->dead - t->margin)
		lease_lost("the grant came back after t0 + L - M");
}

/* Which fault clears by itself: a check's, a link's; others by resume. */
static uint32_t
fault_source(const char *detail)
{
	if (strncmp(detail, "check", 5) == 0)
		return (HEALTH_CHECK);
	if (strncmp(detail, "link", 4) == 0)
		return (HEALTH_LINK);
	return (0);
}

static void
start_demotion(int forced, uint32_t why, const char *target, enum role then,
    uint32_t id, const char *detail)
{
	dm.on = 1;
	dm.forced = forced;
	dm.ok = 0;
	dm.want_release = 0;
	dm.reason = why;
	dm.id = id;
	dm.then = then;
	strlcpy(dm.target, target != NULL ? target : "", sizeof(dm.target));
	strlcpy(dm.detail, detail, sizeof(dm.detail));
	log_notice("demote: %s (epoch %lld)", detail, (long long)my_epoch);
	if (!forced)
		event_add("demote", "%s", detail);
	set_role(ROLE_DEMOTING, detail);
}

/* The lease is gone or going: stop renewing and demote now. */
static void
lease_lost(const char *why)
{
	if (role != ROLE_ACTIVE && !(role == ROLE_DEMOTING && !dm.forced))
		return;
	timer_stop(&timers, T_DEADLINE);
	timer_stop(&timers, T_RENEW);
	extended = 0;
	log_warnx("renew-lost: %s (epoch %lld)", why, (long long)my_epoch);
	event_add("renew-lost", "%s", why);
	if (role == ROLE_DEMOTING) {
		dm.forced = 1;
		dm.want_release = 0;
		strlcpy(reason, why, sizeof(reason));
		send_role(1);
		return;
	}
	start_demotion(1, DEMOTE_FAULT, NULL, ROLE_STANDBY, 0, why);
}

static void
finish_demotion(void)
{
	enum role	 then = dm.then;
	char		 why[FAULT_LEN] = "";
	uint32_t	 id = dm.id;

	timer_stop(&timers, T_DEADLINE);
	timer_stop(&timers, T_RENEW);
	extended = 0;
	if (!dm.ok) {
		then = ROLE_FAULT;
		strlcpy(why, "on-standby failed or netd did not drop the "
		    "addresses", sizeof(why));
		fault_src = 0;
		event_add("fault", "%s", why);
	} else if (then == ROLE_FAULT) {
		strlcpy(why, dm.detail, sizeof(why));
		fault_src = fault_source(dm.detail);
		event_add("fault", "%s", why);
	} else if (then == ROLE_MAINTENANCE) {
		maintenance = 1;
		event_add("maintenance", "after handing over");
	}
	memset(&dm, 0, sizeof(dm));
	set_role(then, why);
	if (then == ROLE_MAINTENANCE)
		req_result(id, 0, "in maintenance");
	else
		req_result(id, 1, "standby: the demotion ended in %s: %s",
		    role_name(then), why);
	want_poll = 1;
}

/* "a standby 12,b active 3" -> nodesm */
static void
parse_nodes(const char *s)
{
	char		 buf[4096], *ent, *last, name[NAME_LEN], rname[16];
	long long	 ms;
	int		 i;

	memset(&nodesm, 0, sizeof(nodesm));
	if (s == NULL || strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return;
	for (ent = strtok_r(buf, ",", &last); ent != NULL &&
	    nodesm.n < MAX_NODES; ent = strtok_r(NULL, ",", &last)) {
		if (sscanf(ent, "%63s %15s %lld", name, rname, &ms) != 3)
			continue;
		strlcpy(nodesm.e[nodesm.n].node, name, NAME_LEN);
		nodesm.e[nodesm.n].role = ROLE_MAX;
		for (i = 0; i < ROLE_MAX; i++)
			if (strcmp(role_name(i), rname) == 0)
				nodesm.e[nodesm.n].role = i;
		nodesm.e[nodesm.n].seen_ms_ago = ms;
		nodesm.n++;
	}
}

/*
 * The row names a node to hand over to (a switchover asked for on any
 * node): the active demotes cleanly and releases to it.
 */
static int
handover_asked(const char *ho)
{
	if (ho[0] == '\0' || strcmp(ho, hconf.node) == 0 || dm.on ||
	    node_conf(ho) == NULL)
		return (0);
	if (sw.id == 0) {
		strlcpy(sw.target, ho, sizeof(sw.target));
		sw.from_epoch = my_epoch;
	}
	start_demotion(0, DEMOTE_SWITCHOVER, ho, ROLE_STANDBY, 0,
	    "switchover asked for");
	return (1);
}

/* Preemption is a switchover started by the active, never a takeover. */
static void
preempt_check(uint64_t now)
{
	struct conf_peer	*me = node_conf(hconf.node);
	int			 i;

	if (!hconf.preempt || me == NULL || dm.on || sw.id != 0)
		return;
	for (i = 0; i < nnodes; i++) {
		if (&nodes[i] == me || !ranks_before(&nodes[i], me) ||
		    nodes[i].priority == me->priority ||
		    !live_standby(nodes[i].name)) {
			higher_since[i] = 0;
			continue;
		}
		if (higher_since[i] == 0)
			higher_since[i] = now;
		if (now - higher_since[i] >= hconf.preempt_delay) {
			event_add("switchover", "preempt: to %s",
			    nodes[i].name);
			start_demotion(0, DEMOTE_SWITCHOVER, nodes[i].name,
			    ROLE_STANDBY, 0, "preempted by a node of higher "
			    "priority");
			return;
		}
	}
}

static void
handle_row(PGresult *r, uint64_t now)
{
	struct fo_timing *t = &hconf.timing;
	const char	*holder, *tok, *ho;
	int64_t		 epoch, beat;
	uint32_t	 lms;
	uint64_t	 wait;
	int		 changed;

	if (PQntuples(r) != 1) {
		/* the row is gone: register again */
		registered = 0;
		return;
	}
	holder = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
	tok = PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1);
	epoch = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	beat = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	ho = PQgetisnull(r, 0, 4) ? "" : PQgetvalue(r, 0, 4);
	lms = strtoul(PQgetvalue(r, 0, 5), NULL, 10);
	parse_nodes(PQgetisnull(r, 0, 6) ? NULL : PQgetvalue(r, 0, 6));
	send_main(IMSG_NODES, &nodesm, sizeof(nodesm));

	changed = !row.valid || row.epoch != epoch || row.beat != beat;
	if (changed)
		row.seen_at = now;
	if (!row.valid || row.epoch != epoch ||
	    strcmp(row.holder, holder) != 0)
		log_info("lease: holder %s, epoch %lld", holder[0] ? holder :
		    "none", (long long)epoch);
	row.valid = 1;
	strlcpy(row.holder, holder, sizeof(row.holder));
	strlcpy(row.token, tok, sizeof(row.token));
	row.epoch = epoch;
	row.beat = beat;
	strlcpy(row.handover, ho, sizeof(row.handover));
	row.lease_ms = lms;

	/* a switchover this node asked for is done when the target holds */
	if (sw.id != 0 && strcmp(holder, sw.target) == 0 &&
	    epoch > sw.from_epoch) {
		req_result(sw.id, 0, "switchover to %s done (epoch %lld)",
		    sw.target, (long long)epoch);
		memset(&sw, 0, sizeof(sw));
		timer_stop(&timers, T_SWITCH);
	}

	switch (role) {
	case ROLE_ACTIVE:
		if (strcmp(holder, hconf.node) != 0 ||
		    strcmp(tok, token) != 0 || epoch != my_epoch) {
			lease_lost("the row names another holder");
			break;
		}
		if (handover_asked(ho))
			break;
		preempt_check(now);
		break;
	case ROLE_STANDBY:
		if (grab_sent != 0 && strcmp(holder, hconf.node) == 0 &&
		    strcmp(tok, token) == 0) {
			/* our acquire committed though its reply was lost */
			become_active(epoch, grab_sent, "takeover");
			break;
		}
		if (holder[0] == '\0') {
			timer_stop(&timers, T_TAKEOVER);
			may_take_at = 0;
			if (strcmp(ho, hconf.node) == 0) {
				want_acquire = 1;
				break;
			}
			if (free_seen_at == 0)
				free_seen_at = now;
			wait = (uint64_t)rank(NULL) * t->interval;
			if (ho[0] != '\0')	/* lapses after L */
				wait += t->dead;
			if (!timer_running(&timers, T_ACQUIRE))
				timer_set_at(&timers, T_ACQUIRE,
				    free_seen_at + wait);
			break;
		}
		free_seen_at = 0;
		timer_stop(&timers, T_ACQUIRE);
		if (strcmp(holder, hconf.node) == 0 &&
		    strcmp(tok, token) == 0)
			break;
		if (changed || !timer_running(&timers, T_TAKEOVER)) {
			wait = t->dead > lms ? t->dead : lms;
			wait += (uint64_t)rank(holder) * t->interval;
			may_take_at = row.seen_at + wait;
			timer_set_at(&timers, T_TAKEOVER, may_take_at);
		}
		break;
	default:
		timer_stop(&timers, T_TAKEOVER);
		timer_stop(&timers, T_ACQUIRE);
		may_take_at = 0;
		break;
	}
	send_seen();
}

void
lease_result(enum query q, PGresult *r, uint64_t sent)
{
	struct hist_msg	 hm;
	struct histreq	*h;
	struct event	*e;
	struct db_msg	 m;
	struct fo_timing *t = &hconf.timing;
	const char	*err;
	int		 ok, i;

	ok = r != NULL && (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK);
	err = r != NULL ? PQresultErrorMessage(r) : "no result";
	if (!ok && q != Q_CHECK && q != Q_CREATE) {
		log_warnx("database: %s failed: %s", q == Q_RENEW ? "renewal" :
		    "statement", err);
		if (db_conn_bad()) {
			db_drop(err);
			return;
		}
	}

	switch (q) {
	case Q_CHECK:
		if (ok && PQntuples(r) == 1 &&
		    strcmp(PQgetvalue(r, 0, 0), "t") == 0)
			setup_step = 2;
		else if (setup_step == 0)
			setup_step = 1;
		else
			fatalx("database: cannot create the failover tables "
			    "(%s): have a DBA apply heartbeatd/schema.sql",
			    db_error()[0] ? db_error() : "permission denied");
		break;
	case Q_CREATE:
		if (!ok) {
			log_warnx("database: creating the tables: %s", err);
			db_drop(err);
			setup_step = 3;	/* check again, then give up */
		} else {
			log_notice("database: created the failover tables");
			setup_step = 0;
		}
		break;
	case Q_SESSION:
		if (!ok) {
			db_drop(err);
			break;
		}
		db_ready();
		backoff = 0;
		memset(&m, 0, sizeof(m));
		m.up = 1;
		send_main(IMSG_DB_STATE, &m, sizeof(m));
		log_info("database: ready");
		break;
	case Q_REGISTER:
		if (!ok)
			break;
		registered = 1;
		if (PQntuples(r) == 1 &&
		    strcmp(PQgetvalue(r, 0, 0), "maintenance") == 0 &&
		    !maintenance) {
			maintenance = 1;
			log_notice("in maintenance (kept from before)");
			if (role == ROLE_STANDBY)
				set_role(ROLE_MAINTENANCE, "");
		}
		if (!logged_start) {
			logged_start = 1;
			event_add("start", "priority %u", hconf.priority);
		}
		want_poll = 1;
		if (!timer_running(&timers, T_TICK))
			timer_set(&timers, T_TICK, t->interval);
		break;
	case Q_POLL:
		if (ok)
			handle_row(r, now_ms());
		break;
	case Q_RENEW:
		renew_out = 0;
		if (role != ROLE_ACTIVE && !(role == ROLE_DEMOTING &&
		    !dm.forced))
			break;
		if (!ok) {
			/* no answer is no renewal: the deadline decides */
			extended = 1;
			next_renew_at = now_ms() + t->interval;
			break;
		}
		if (PQntuples(r) != 1) {
			lease_lost("renewal affected no row");
			break;
		}
		t0 = sent;
		next_renew_at = sent + t->interval;
		timer_set_at(&timers, T_DEADLINE, t0 + t->dead - t->margin);
		row.beat = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		{
			struct lease_msg lm = { my_epoch, t0 };

			send_main(IMSG_LEASE_RENEWED, &lm, sizeof(lm));
		}
		if (!PQgetisnull(r, 0, 1) && role == ROLE_ACTIVE) {
			strlcpy(row.handover, PQgetvalue(r, 0, 1),
			    sizeof(row.handover));
			handover_asked(row.handover);
		}
		break;
	case Q_ACQUIRE:
	case Q_TAKEOVER:
		grab_sent = 0;
		if (!ok || PQntuples(r) != 1) {
			want_poll = 1;
			break;
		}
		if (role != ROLE_STANDBY)
			fatalx("granted the lease while %s", role_name(role));
		become_active(strtoll(PQgetvalue(r, 0, 0), NULL, 10), sent,
		    q == Q_ACQUIRE ? "acquire" : "takeover");
		break;
	case Q_RELEASE:
		if (ok && PQntuples(r) == 1)
			log_notice("release: epoch %lld%s%s",
			    (long long)my_epoch, dm.target[0] ?
			    ", handed over to " : "", dm.target);
		if (dm.on)
			finish_demotion();
		break;
	case Q_HANDOVER:
		if (!ok || PQntuples(r) != 1) {
			req_result(sw.id, 1, "switchover: no other node "
			    "holds the lease");
			memset(&sw, 0, sizeof(sw));
			timer_stop(&timers, T_SWITCH);
		}
		want_poll = 1;
		break;
	case Q_NODEROLE:
		break;
	case Q_EVENT:
		if ((e = TAILQ_FIRST(&events)) != NULL) {
			TAILQ_REMOVE(&events, e, entry);
			free(e);
		}
		break;
	case Q_HISTORY:
		if ((h = TAILQ_FIRST(&histq)) == NULL)
			break;
		TAILQ_REMOVE(&histq, h, entry);
		for (i = 0; ok && i < PQntuples(r); i++) {
			memset(&hm, 0, sizeof(hm));
			hm.id = h->id;
			snprintf(hm.line, sizeof(hm.line), "%s %s %s epoch %s%s%s",
			    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
			    PQgetvalue(r, i, 4)[0] ? " " : "",
			    PQgetvalue(r, i, 4));
			send_main(IMSG_HISTORY_LINE, &hm, sizeof(hm));
		}
		if (ok)
			req_result(h->id, 0, "%s", "");
		else
			req_result(h->id, 1, "history: %s", err);
		free(h);
		break;
	case Q_NONE:
		break;
	}
}

static void
handle_switchover(struct demote_msg *d)
{
	const char	*target = d->target[0] ? d->target : NULL;
	struct fo_timing *t = &hconf.timing;

	if (sw.id != 0 || dm.on) {
		req_result(d->id, 1, "switchover: one is already under way");
		return;
	}
	if (target != NULL && node_conf(target) == NULL) {
		req_result(d->id, 1, "switchover: no node %s in the "
		    "configuration", target);
		return;
	}
	if (db_state() != DB_READY) {
		req_result(d->id, 1, "switchover: the database is down");
		return;
	}
	if (role == ROLE_ACTIVE) {
		if (target == NULL && (target = best_standby()) == NULL) {
			req_result(d->id, 1, "switchover: no live standby to "
			    "hand over to");
			return;
		}
		if (!live_standby(target)) {
			req_result(d->id, 1, "switchover: %s is not a live "
			    "standby", target);
			return;
		}
		sw.id = d->id;
		sw.from_epoch = my_epoch;
		strlcpy(sw.target, target, sizeof(sw.target));
		event_add("switchover", "to %s", target);
		start_demotion(0, DEMOTE_SWITCHOVER, target, ROLE_STANDBY, 0,
		    "switchover");
	} else {
		if (target == NULL && (target = best_standby()) == NULL &&
		    role == ROLE_STANDBY)
			target = hconf.node;
		if (target == NULL) {
			req_result(d->id, 1, "switchover: no live standby to "
			    "hand over to");
			return;
		}
		if (strcmp(target, hconf.node) != 0 && !live_standby(target)) {
			req_result(d->id, 1, "switchover: %s is not a live "
			    "standby", target);
			return;
		}
		if (strcmp(target, hconf.node) == 0 && role != ROLE_STANDBY) {
			req_result(d->id, 1, "switchover: this node is %s",
			    role_name(role));
			return;
		}
		sw.id = d->id;
		sw.from_epoch = row.epoch;
		sw.want_handover = 1;
		strlcpy(sw.target, target, sizeof(sw.target));
	}
	timer_set(&timers, T_SWITCH, 2ULL * t->dead);
}

static void
handle_maintenance(struct demote_msg *d)
{
	const char	*target;

	if (d->reason) {		/* standby: enter maintenance */
		if (role == ROLE_ACTIVE) {
			if ((target = best_standby()) == NULL) {
				req_result(d->id, 1, "standby: no live standby "
				    "to hand over to first");
				return;
			}
			event_add("switchover", "to %s, then maintenance",
			    target);
			start_demotion(0, DEMOTE_MAINTENANCE, target,
			    ROLE_MAINTENANCE, d->id, "maintenance");
			return;
		}
		if (role == ROLE_DEMOTING) {
			req_result(d->id, 1, "standby: a demotion is under "
			    "way");
			return;
		}
		maintenance = 1;
		if (role != ROLE_MAINTENANCE) {
			event_add("maintenance", NULL);
			set_role(ROLE_MAINTENANCE, "");
		}
		req_result(d->id, 0, "in maintenance");
		return;
	}
	/* resume: leave maintenance, clear a fault */
	if (role == ROLE_MAINTENANCE || role == ROLE_FAULT) {
		maintenance = 0;
		fault_src = 0;
		event_add("resume", "was %s", role_name(role));
		set_role(started ? ROLE_STANDBY : ROLE_STARTING, "");
		want_poll = 1;
		req_result(d->id, 0, "resumed: standby");
		return;
	}
	maintenance = 0;
	req_result(d->id, 0, "nothing to resume: %s", role_name(role));
}

static void
heartbeatd_dispatch(void)
{
	struct imsg		 imsg;
	struct demote_msg	 d;
	struct ok_msg		 o;
	struct lease_msg	 lm;
	struct hist_msg		 hm;
	struct histreq		*h;
	ssize_t			 n;
	int			 v;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		if (conf_state != 2 && imsg_get_type(&imsg) != IMSG_CONF_HEARTBEAT
		    && imsg_get_type(&imsg) != IMSG_CONF_NODE &&
		    imsg_get_type(&imsg) != IMSG_CONF_END)
			fatalx("message %u before the configuration",
			    imsg_get_type(&imsg));
		switch (imsg_get_type(&imsg)) {
		case IMSG_CONF_HEARTBEAT:
			if (conf_state != 0 || imsg_get_data(&imsg, &hconf,
			    sizeof(hconf)) == -1)
				fatalx("bad IMSG_CONF_HEARTBEAT");
			hconf.cluster[sizeof(hconf.cluster) - 1] = '\0';
			hconf.node[sizeof(hconf.node) - 1] = '\0';
			hconf.conninfo[sizeof(hconf.conninfo) - 1] = '\0';
			if (hconf.timing.interval == 0 ||
			    hconf.timing.dead < hconf.timing.margin +
			    2 * hconf.timing.interval + hconf.timing.timeout)
				fatalx("bad timing in IMSG_CONF_HEARTBEAT");
			conf_state = 1;
			break;
		case IMSG_CONF_NODE:
			if (conf_state != 1 || nnodes >= MAX_NODES ||
			    imsg_get_data(&imsg, &nodes[nnodes],
			    sizeof(nodes[0])) == -1)
				fatalx("bad IMSG_CONF_NODE");
			nodes[nnodes].name[NAME_LEN - 1] = '\0';
			nnodes++;
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || imsg_get_len(&imsg) != 0 ||
			    node_conf(hconf.node) == NULL)
				fatalx("bad IMSG_CONF_END");
			conf_state = 2;
			db_init(hconf.conninfo, hconf.timing.timeout);
			explicit_bzero(hconf.conninfo, sizeof(hconf.conninfo));
			db_connect();
			send_main(IMSG_READY, NULL, 0);
			break;
		case IMSG_START:
			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1 ||
			    started)
				fatalx("bad IMSG_START");
			o.reason[sizeof(o.reason) - 1] = '\0';
			started = 1;
			if (!o.ok)
				set_role(ROLE_FAULT, o.reason);
			else if (maintenance)
				set_role(ROLE_MAINTENANCE, "");
			else
				set_role(ROLE_STANDBY, "");
			want_poll = 1;
			break;
		case IMSG_VIP_EXTENDED:
			if (imsg_get_data(&imsg, &lm, sizeof(lm)) == -1)
				fatalx("bad IMSG_VIP_EXTENDED");
			if (lm.epoch == my_epoch && lm.t0 == t0 &&
			    (role == ROLE_ACTIVE || role == ROLE_DEMOTING))
				extended = 1;
			break;
		case IMSG_DEMOTE:
			if (imsg_get_data(&imsg, &d, sizeof(d)) == -1 ||
			    d.reason > DEMOTE_FAULT)
				fatalx("bad IMSG_DEMOTE");
			d.target[NAME_LEN - 1] = '\0';
			d.detail[FAULT_LEN - 1] = '\0';
			if (role == ROLE_ACTIVE) {
				const char *t = d.target[0] ? d.target :
				    best_standby();

				start_demotion(0, d.reason, t,
				    d.reason == DEMOTE_FAULT ? ROLE_FAULT :
				    ROLE_STANDBY, 0, d.detail);
			} else if (d.reason == DEMOTE_FAULT &&
			    (role == ROLE_STANDBY || role == ROLE_STARTING)) {
				fault_src = fault_source(d.detail);
				event_add("fault", "%s", d.detail);
				set_role(ROLE_FAULT, d.detail);
			}
			break;
		case IMSG_DEMOTE_DONE:
			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1)
				fatalx("bad IMSG_DEMOTE_DONE");
			if (!dm.on || o.epoch != my_epoch)
				break;
			dm.ok = o.ok;
			if (dm.ok && !dm.forced && db_state() == DB_READY) {
				if (dm.target[0] != '\0' &&
				    !live_standby(dm.target))
					dm.target[0] = '\0';
				dm.want_release = 1;
			} else
				finish_demotion();
			break;
		case IMSG_SWITCHOVER:
			if (imsg_get_data(&imsg, &d, sizeof(d)) == -1)
				fatalx("bad IMSG_SWITCHOVER");
			d.target[NAME_LEN - 1] = '\0';
			handle_switchover(&d);
			break;
		case IMSG_MAINTENANCE:
			if (imsg_get_data(&imsg, &d, sizeof(d)) == -1 ||
			    d.reason > 1)
				fatalx("bad IMSG_MAINTENANCE");
			handle_maintenance(&d);
			break;
		case IMSG_HEALTH:
			if (imsg_get_data(&imsg, &o, sizeof(o)) == -1)
				fatalx("bad IMSG_HEALTH");
			o.reason[sizeof(o.reason) - 1] = '\0';
			if (o.source != HEALTH_CHECK &&
			    o.source != HEALTH_LINK)
				fatalx("bad IMSG_HEALTH source");
			if (!o.ok && role == ROLE_STANDBY) {
				fault_src = o.source;
				event_add("fault", "%s", o.reason);
				set_role(ROLE_FAULT, o.reason);
			} else if (o.ok && role == ROLE_FAULT &&
			    fault_src == o.source) {
				fault_src = 0;
				event_add("resume", "%s healthy again",
				    o.source == HEALTH_CHECK ? "check" :
				    "link");
				set_role(maintenance ? ROLE_MAINTENANCE :
				    ROLE_STANDBY, "");
			}
			break;
		case IMSG_HISTORY:
			if (imsg_get_data(&imsg, &hm, sizeof(hm)) == -1 ||
			    hm.n < 1 || hm.n > 100000)
				fatalx("bad IMSG_HISTORY");
			if (db_state() != DB_READY) {
				req_result(hm.id, 1, "history: the database "
				    "is down");
				break;
			}
			if ((h = calloc(1, sizeof(*h))) == NULL)
				fatal(NULL);
			h->id = hm.id;
			h->n = hm.n;
			TAILQ_INSERT_TAIL(&histq, h, entry);
			break;
		case IMSG_STOP:
			if (imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_STOP");
			if (stopping)
				break;
			stopping = 1;
			event_add("stop", NULL);
			timer_set(&timers, T_STOP, hconf.timing.timeout);
			break;
		case IMSG_LOG_VERBOSE:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				fatalx("bad IMSG_LOG_VERBOSE");
			log_setverbose(v);
			break;
		default:
			fatalx("unexpected message %u", imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
}
