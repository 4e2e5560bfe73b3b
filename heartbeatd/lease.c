/*
 * heartbeatd: the role state machine of the lease (failoverd(8), "The
 * lease").  Pure: it reads no clock and calls no libpq.  Every input
 * comes with its time; what to send to the database comes out of
 * lease_next() one statement at a time, what to tell the monitor
 * through l->out, and the deadlines it keeps sit in l->due for the
 * caller to arm.  What the monitor asks of it is in lease_ctl.c.
 * tests/unit/lease_test.c drives both through chosen orders of events.
 *
 * Only a statement that returns a row makes this process the holder.
 * The active node renews every H, and only after netd confirmed the
 * extension of the previous one; it demotes itself at t0 + L - M, where
 * t0 is when the last acknowledged renewal was sent.  A standby takes
 * over when the (epoch, beat) it watches has not moved for L on its own
 * clock, naming exactly that (epoch, beat).
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failoverd.h"
#include "lease.h"
#include "log.h"

void
lease_timer_at(struct lease *l, enum lease_timer t, uint64_t at)
{
	l->due[t] = at == 0 ? 1 : at;
}

static void
timer_off(struct lease *l, enum lease_timer t)
{
	l->due[t] = 0;
}

static int
timer_on(struct lease *l, enum lease_timer t)
{
	return (l->due[t] != 0);
}

static int
timer_fired(struct lease *l, enum lease_timer t, uint64_t now)
{
	if (l->due[t] == 0 || l->due[t] > now)
		return (0);
	l->due[t] = 0;
	return (1);
}

void
lease_req_result(struct lease *l, uint32_t id, int code, const char *fmt, ...)
{
	struct req_result_msg	 hm;
	va_list			 ap;

	if (id == 0)
		return;
	memset(&hm, 0, sizeof(hm));
	hm.id = id;
	hm.code = code;
	va_start(ap, fmt);
	vsnprintf(hm.msg, sizeof(hm.msg), fmt, ap);
	va_end(ap);
	l->out(l->arg, IMSG_REQ_RESULT, &hm, sizeof(hm));
}

/* Every transition is appended to failover_event, with its epoch. */
void
lease_event(struct lease *l, const char *name, const char *fmt, ...)
{
	struct lease_event	*e;
	va_list			 ap;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal(NULL);
	e->epoch = l->epoch;
	strlcpy(e->name, name, sizeof(e->name));
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
		va_end(ap);
	}
	TAILQ_INSERT_TAIL(&l->events, e, entry);
}

void
lease_init(struct lease *l, const struct conf_heartbeat *c,
    const struct conf_peer *nodes, int nnodes, const char *token,
    lease_out_fn out, void *arg)
{
	memset(l, 0, sizeof(*l));
	l->out = out;
	l->arg = arg;
	l->conf = *c;
	explicit_bzero(l->conf.conninfo, sizeof(l->conf.conninfo));
	if (nnodes > MAX_NODES)
		fatalx("%s: %d nodes", __func__, nnodes);
	memcpy(l->nodes, nodes, sizeof(nodes[0]) * nnodes);
	l->nnodes = nnodes;
	strlcpy(l->token, token, sizeof(l->token));
	l->role = ROLE_STARTING;
	l->epoch = -1;
	l->owed = -1;
	l->take_epoch = -1;
	TAILQ_INIT(&l->events);
}

void
lease_free(struct lease *l)
{
	struct lease_event	*e;

	while ((e = TAILQ_FIRST(&l->events)) != NULL) {
		TAILQ_REMOVE(&l->events, e, entry);
		free(e);
	}
}

int
lease_renewing(struct lease *l)
{
	return (l->role == ROLE_ACTIVE ||
	    (l->role == ROLE_DEMOTING && !l->dm.forced));
}

static void
send_role(struct lease *l, int forced)
{
	struct role_msg	 rm;
	struct fo_timing *t = &l->conf.timing;

	memset(&rm, 0, sizeof(rm));
	rm.role = l->role;
	rm.forced = forced;
	rm.epoch = l->epoch;
	rm.t0 = l->t0;
	if (l->role == ROLE_ACTIVE || l->role == ROLE_DEMOTING) {
		rm.demote_at = l->t0 + t->dead - t->margin;
		rm.kill_at = l->t0 + t->dead - t->slack;
	}
	strlcpy(rm.holder, l->row.holder, sizeof(rm.holder));
	strlcpy(rm.reason, l->reason, sizeof(rm.reason));
	l->out(l->arg, IMSG_ROLE, &rm, sizeof(rm));
}

static void
send_seen(struct lease *l)
{
	struct seen_msg	 sm;

	memset(&sm, 0, sizeof(sm));
	sm.epoch = l->row_valid ? l->row.epoch : -1;
	strlcpy(sm.holder, l->row.holder, sizeof(sm.holder));
	sm.may_take_at = l->may_take_at;
	l->out(l->arg, IMSG_LEASE_SEEN, &sm, sizeof(sm));
}

void
lease_set_role(struct lease *l, enum role r, const char *why)
{
	if (l->role == r && strcmp(l->reason, why != NULL ? why : "") == 0)
		return;
	l->role = r;
	strlcpy(l->reason, why != NULL ? why : "", sizeof(l->reason));
	l->want_noderole = 1;
	send_role(l, l->dm.on ? l->dm.forced : 0);
}

/* The earliest deadline, 0 when none is set. */
uint64_t
lease_next_due(struct lease *l)
{
	uint64_t	 next = 0;
	int		 i;

	for (i = 0; i < LT_MAX; i++)
		if (l->due[i] != 0 && (next == 0 || l->due[i] < next))
			next = l->due[i];
	return (next);
}

/* Deadlines first: a late reply must not outlive the lease.  Returns 1
 * when the connection is to be opened now. */
int
lease_timers(struct lease *l, uint64_t now)
{
	int	 connect = 0;

	if (timer_fired(l, LT_DEADLINE, now))
		lease_lost(l, now, "lease deadline t0 + L - M passed");
	if (timer_fired(l, LT_RECONNECT, now))
		connect = 1;
	if (timer_fired(l, LT_TICK, now)) {
		l->want_poll = 1;
		l->err_wait = 0;
		lease_timer_at(l, LT_TICK, now + l->conf.timing.interval);
	}
	if (timer_fired(l, LT_TAKEOVER, now))
		l->want_takeover = 1;
	if (timer_fired(l, LT_ACQUIRE, now))
		l->want_acquire = 1;
	(void)timer_fired(l, LT_RENEW, now);
	if (timer_fired(l, LT_SWITCH, now)) {
		lease_req_result(l, l->sw.id, 1, "switchover to %s did not happen "
		    "within 2 x dead", l->sw.target);
		memset(&l->sw, 0, sizeof(l->sw));
	}
	if (timer_fired(l, LT_STOP, now) && l->stopping == 1) {
		l->out(l->arg, IMSG_STOPPED, NULL, 0);
		l->stopping = 2;
	}
	return (connect);
}

static void
stopped_check(struct lease *l, int idle)
{
	if (l->stopping == 1 && TAILQ_EMPTY(&l->events) && !l->dm.on &&
	    (!l->db_ready || idle)) {
		l->out(l->arg, IMSG_STOPPED, NULL, 0);
		l->stopping = 2;
	}
}

/*
 * The next statement, when the connection is ready and idle; now is read
 * just before it is written, so it is the send time of a renewal (t0).
 * Returns 0 when nothing is to be sent.
 */
int
lease_next(struct lease *l, uint64_t now, struct lease_stmt *st)
{
	struct lease_event	*e;
	struct fo_timing	*t = &l->conf.timing;

	memset(st, 0, sizeof(*st));
	stopped_check(l, 1);
	if (!l->db_ready)
		return (0);

	if (!l->registered) {
		if (l->err_wait)
			return (0);
		st->kind = ST_REGISTER;
		st->role = role_name(l->role == ROLE_STARTING ? ROLE_STANDBY :
		    l->role);
		/* only the first registration keeps a maintenance of before,
		 * and only when no standby or resume was asked since */
		st->keep_maintenance = !l->registered_once && !l->maint_set;
		return (1);
	}
	if (l->dm.on && l->dm.done == 1 && !l->dm.forced &&
	    TAILQ_EMPTY(&l->events)) {
		/* the planned release, naming the node handed over to, after
		 * the events before it (demote) are in failover_event */
		st->kind = ST_RELEASE;
		st->epoch = l->epoch;
		strlcpy(st->node, l->dm.target, sizeof(st->node));
		strlcpy(st->detail, l->dm.detail, sizeof(st->detail));
		l->dm.done = 2;		/* sent */
		l->release_out = 1;
		return (1);
	}
	if (l->owed != -1 && !l->err_wait) {
		st->kind = ST_RELEASE;
		st->epoch = l->owed;
		strlcpy(st->detail, "not acting on it", sizeof(st->detail));
		l->release_out = 2;
		return (1);
	}
	if (l->want_takeover && !l->err_wait && l->role == ROLE_STANDBY &&
	    l->row_valid &&
	    l->take_epoch >= 0 && l->row.epoch == l->take_epoch &&
	    l->row.beat == l->take_beat) {
		l->want_takeover = 0;
		st->kind = ST_TAKEOVER;
		st->epoch = l->take_epoch;
		st->beat = l->take_beat;
		strlcpy(st->node, l->take_from, sizeof(st->node));
		if (l->grant_sent == 0)
			l->grant_sent = now;
		return (1);
	}
	l->want_takeover = 0;
	if (l->want_acquire && !l->err_wait && l->role == ROLE_STANDBY &&
	    l->row_valid && l->row.holder[0] == '\0') {
		l->want_acquire = 0;
		st->kind = ST_ACQUIRE;
		st->epoch = l->row.epoch;
		strlcpy(st->detail, l->row.handover[0] ? "handed over" :
		    "free lease", sizeof(st->detail));
		if (l->grant_sent == 0)
			l->grant_sent = now;
		return (1);
	}
	l->want_acquire = 0;
	if (lease_renewing(l) && l->extended) {
		if (now >= l->t0 + t->dead - t->margin) {
			lease_lost(l, now, "lease deadline t0 + L - M passed");
			return (lease_next(l, now, st));
		}
		if (now >= l->next_renew_at) {
			st->kind = ST_RENEW;
			st->epoch = l->epoch;
			l->extended = 0;
			l->renew_sent = now;
			return (1);
		}
		lease_timer_at(l, LT_RENEW, l->next_renew_at);
	}
	if (l->sw.want_handover) {
		l->sw.want_handover = 0;
		st->kind = ST_HANDOVER;
		strlcpy(st->node, l->sw.target, sizeof(st->node));
		return (1);
	}
	if (l->want_noderole) {
		l->want_noderole = 0;
		st->kind = ST_NODEROLE;
		st->role = role_name(l->role);
		return (1);
	}
	if ((e = TAILQ_FIRST(&l->events)) != NULL) {
		st->kind = ST_EVENT;
		strlcpy(st->event, e->name, sizeof(st->event));
		st->event_epoch = e->epoch;
		strlcpy(st->detail, e->detail, sizeof(st->detail));
		return (1);
	}
	if (l->want_poll) {
		l->want_poll = 0;
		st->kind = ST_POLL;
		st->role = role_name(l->role);
		return (1);
	}
	return (0);
}

void
lease_db_ready(struct lease *l, uint64_t now)
{
	l->db_ready = 1;
	l->backoff = 0;
	l->registered = 0;
	l->release_out = 0;
	/* the tick also ends the wait after a failed statement */
	if (!timer_on(l, LT_TICK))
		lease_timer_at(l, LT_TICK, now + l->conf.timing.interval);
}

void
lease_db_down(struct lease *l, uint64_t now, const char *err)
{
	struct fo_timing *t = &l->conf.timing;
	uint32_t	 cap;

	(void)err;
	l->db_ready = 0;
	l->registered = 0;
	l->release_out = 0;
	/* reconnect soon: an active node has L - M to renew, and a healed
	 * network is noticed within (L - M) / 4 */
	cap = (t->dead - t->margin) / 4;
	if (cap == 0)
		cap = 1;
	l->backoff = l->backoff == 0 ? 100 : l->backoff * 2;
	if (l->backoff > cap)
		l->backoff = cap;
	lease_timer_at(l, LT_RECONNECT, now + l->backoff);
	/* a renewal lost with the connection may be sent again: t0 holds */
	if (l->renew_sent != 0) {
		l->renew_sent = 0;
		if (lease_renewing(l))
			l->extended = 1;
	}
	if (l->dm.on && l->dm.done) {
		/* the planned release is in doubt: owed, demoted meanwhile */
		l->owed = l->epoch;
		lease_finish_demotion(l);
	}
	stopped_check(l, 0);
}

void
lease_notified(struct lease *l)
{
	l->want_poll = 1;
}

static void
become_active(struct lease *l, uint64_t now, int64_t epoch, uint64_t sent,
    const char *how)
{
	struct fo_timing *t = &l->conf.timing;

	l->epoch = epoch;
	l->t0 = sent;
	l->extended = 0;
	l->grant_sent = 0;
	l->next_renew_at = sent + t->interval;
	memset(&l->dm, 0, sizeof(l->dm));
	timer_off(l, LT_TAKEOVER);
	timer_off(l, LT_ACQUIRE);
	l->want_takeover = l->want_acquire = 0;
	l->take_epoch = -1;
	lease_timer_at(l, LT_DEADLINE, l->t0 + t->dead - t->margin);
	strlcpy(l->row.holder, l->conf.node, sizeof(l->row.holder));
	strlcpy(l->row.token, l->token, sizeof(l->row.token));
	l->row.epoch = epoch;
	l->row.beat = 0;
	/* the grant's statement wrote its failover_event row itself */
	log_notice("%s: active at epoch %lld", how, (long long)epoch);
	lease_set_role(l, ROLE_ACTIVE, how);
	send_seen(l);
	if (now >= l->t0 + t->dead - t->margin)
		lease_lost(l, now, "the grant came back after t0 + L - M");
}

/* Which faults clear by themselves: the check's, the link's, the db's. */
int
lease_fault_clears(uint32_t src)
{
	return (src == FAULT_CHECK || src == FAULT_LINK || src == FAULT_DB);
}

/*
 * The role a node not active settles in: fault while a fault that
 * clears by itself (check, link) still holds, whatever role it was in
 * when that was seen; else maintenance or standby.
 */
enum role
lease_calm_role(struct lease *l, const char **why)
{
	uint32_t	 src;

	for (src = 0; src < FAULT_MAX; src++)
		if (l->faulty & (1U << src)) {
			l->fault_src = src;
			*why = l->fault_why[src];
			return (ROLE_FAULT);
		}
	*why = "";
	return (l->maintenance ? ROLE_MAINTENANCE : ROLE_STANDBY);
}

void
lease_start_demotion(struct lease *l, int forced, uint32_t why,
    const char *target, enum role then, uint32_t id, const char *detail)
{
	memset(&l->dm, 0, sizeof(l->dm));
	l->dm.on = 1;
	l->dm.forced = forced;
	l->dm.why = why;
	l->dm.id = id;
	l->dm.then = then;
	strlcpy(l->dm.target, target != NULL ? target : "",
	    sizeof(l->dm.target));
	strlcpy(l->dm.detail, detail, sizeof(l->dm.detail));
	log_notice("demote: %s (epoch %lld)", detail, (long long)l->epoch);
	if (!forced)
		lease_event(l, "demote", "%s", detail);
	lease_set_role(l, ROLE_DEMOTING, detail);
}

/* The lease is gone or going: stop renewing and demote now. */
void
lease_lost(struct lease *l, uint64_t now, const char *why)
{
	(void)now;
	if (!lease_renewing(l))
		return;
	timer_off(l, LT_DEADLINE);
	timer_off(l, LT_RENEW);
	l->extended = 0;
	log_warnx("renew-lost: %s (epoch %lld)", why, (long long)l->epoch);
	lease_event(l, "renew-lost", "%s", why);
	if (l->role == ROLE_DEMOTING) {
		l->dm.forced = 1;
		strlcpy(l->reason, why, sizeof(l->reason));
		send_role(l, 1);
		if (l->dm.done) {
			/* on-standby ended: the release is owed */
			l->owed = l->epoch;
			lease_finish_demotion(l);
		}
		return;
	}
	lease_start_demotion(l, 1, DEMOTE_FAULT, NULL, ROLE_STANDBY, 0, why);
}

void
lease_finish_demotion(struct lease *l)
{
	enum role	 then = l->dm.then;
	char		 why[FAULT_LEN] = "";
	uint32_t	 id = l->dm.id;

	timer_off(l, LT_DEADLINE);
	timer_off(l, LT_RENEW);
	l->extended = 0;
	if (!l->dm.ok) {
		then = ROLE_FAULT;
		strlcpy(why, "on-standby failed or netd did not drop the "
		    "addresses", sizeof(why));
		l->fault_src = FAULT_HOOK;
		l->unclean = 1;
		lease_event(l, "fault", "%s", why);
	} else if (then == ROLE_FAULT && (!lease_fault_clears(l->fault_src) ||
	    (l->faulty & (1U << l->fault_src)))) {
		strlcpy(why, l->dm.detail, sizeof(why));
		lease_event(l, "fault", "%s", why);
	} else {
		const char	*w;

		if (then == ROLE_MAINTENANCE) {
			l->maintenance = 1;
			lease_event(l, "maintenance", "after handing over");
		}
		/* a fault seen during the demotion, or one that cleared */
		if ((then = lease_calm_role(l, &w)) == ROLE_FAULT)
			lease_event(l, "fault", "%s", w);
		strlcpy(why, w, sizeof(why));
	}
	memset(&l->dm, 0, sizeof(l->dm));
	lease_set_role(l, then, why);
	if (then == ROLE_MAINTENANCE)
		lease_req_result(l, id, 0, "in maintenance");
	else
		lease_req_result(l, id, 1, "standby: the demotion ended in %s: %s",
		    role_name(then), why);
	l->want_poll = 1;
}

/*
 * The row names a node to hand over to (a switchover asked for on any
 * node): the active demotes cleanly and releases to it.
 */
static int
handover_asked(struct lease *l, const char *ho)
{
	if (ho[0] == '\0' || strcmp(ho, l->conf.node) == 0 || l->dm.on ||
	    rank_node(l, ho) == NULL)
		return (0);
	if (l->sw.id == 0) {
		strlcpy(l->sw.target, ho, sizeof(l->sw.target));
		l->sw.from_epoch = l->epoch;
	}
	lease_start_demotion(l, 0, DEMOTE_SWITCHOVER, ho, ROLE_STANDBY, 0,
	    "switchover asked for");
	return (1);
}

/* Preemption is a switchover started by the active, never a takeover. */
static void
preempt_check(struct lease *l, uint64_t now)
{
	struct conf_peer	*me = rank_node(l, l->conf.node);
	int			 i;

	if (!l->conf.preempt || me == NULL || l->dm.on || l->sw.id != 0)
		return;
	for (i = 0; i < l->nnodes; i++) {
		if (&l->nodes[i] == me || !rank_before(&l->nodes[i], me) ||
		    l->nodes[i].priority == me->priority ||
		    !rank_live_standby(l, l->nodes[i].name)) {
			l->higher_since[i] = 0;
			continue;
		}
		if (l->higher_since[i] == 0)
			l->higher_since[i] = now;
		if (now - l->higher_since[i] >= l->conf.preempt_delay) {
			lease_event(l, "switchover", "preempt: to %s",
			    l->nodes[i].name);
			lease_start_demotion(l, 0, DEMOTE_SWITCHOVER,
			    l->nodes[i].name, ROLE_STANDBY, 0, "preempted by "
			    "a node of higher priority");
			return;
		}
	}
}

/* This process holds the row while it does not act on it: give it back,
 * unless a failed demotion may have left the application running. */
static void
owe_release(struct lease *l, int64_t epoch, const char *why)
{
	if (l->unclean || l->owed == epoch)
		return;
	log_notice("release: the row names this process at epoch %lld while "
	    "it is %s (%s)", (long long)epoch, role_name(l->role), why);
	l->owed = epoch;
}

static void
arm_takeover(struct lease *l, const struct lease_row *r)
{
	struct fo_timing *t = &l->conf.timing;
	uint64_t	 wait;

	wait = t->dead > r->lease_ms ? t->dead : r->lease_ms;
	wait += (uint64_t)rank_of(l, r->holder) * t->interval;
	l->may_take_at = l->row_seen_at + wait;
	l->take_epoch = r->epoch;
	l->take_beat = r->beat;
	strlcpy(l->take_from, r->holder, sizeof(l->take_from));
	lease_timer_at(l, LT_TAKEOVER, l->may_take_at);
}

static void
handle_row(struct lease *l, uint64_t now, const struct lease_reply *rp)
{
	const struct lease_row *r = &rp->row;
	struct fo_timing *t = &l->conf.timing;
	uint64_t	 wait;
	int		 changed, mine;

	if (rp->rows != 1) {
		/* the row is gone: register again */
		l->registered = 0;
		return;
	}
	l->nodesm = rp->nodes;
	l->out(l->arg, IMSG_NODES, &l->nodesm, sizeof(l->nodesm));

	changed = !l->row_valid || l->row.epoch != r->epoch ||
	    l->row.beat != r->beat;
	if (changed)
		l->row_seen_at = now;
	if (!l->row_valid || l->row.epoch != r->epoch ||
	    strcmp(l->row.holder, r->holder) != 0)
		log_info("lease: holder %s, epoch %lld", r->holder[0] ?
		    r->holder : "none", (long long)r->epoch);
	l->row_valid = 1;
	l->row = *r;
	mine = strcmp(r->holder, l->conf.node) == 0 &&
	    strcmp(r->token, l->token) == 0;

	/* a switchover this node asked for is done when the target holds */
	if (l->sw.id != 0 && strcmp(r->holder, l->sw.target) == 0 &&
	    r->epoch > l->sw.from_epoch) {
		lease_req_result(l, l->sw.id, 0, "switchover to %s done (epoch %lld)",
		    l->sw.target, (long long)r->epoch);
		memset(&l->sw, 0, sizeof(l->sw));
		timer_off(l, LT_SWITCH);
	}
	/* a takeover not yet sent is for the (epoch, beat) it was armed for */
	if (changed) {
		l->want_takeover = 0;
		timer_off(l, LT_TAKEOVER);
		l->take_epoch = -1;
	}
	/* (epoch, beat) never comes back: a grant naming the old one is
	 * dead */
	if (changed && !mine)
		l->grant_sent = 0;

	switch (l->role) {
	case ROLE_ACTIVE:
		if (!mine || r->epoch != l->epoch) {
			lease_lost(l, now, "the row names another holder");
			break;
		}
		if (handover_asked(l, r->handover))
			break;
		preempt_check(l, now);
		break;
	case ROLE_DEMOTING:
		break;
	case ROLE_STANDBY:
		if (mine) {
			/* a grant whose reply was lost, or a lease kept after
			 * a forced demotion */
			owe_release(l, r->epoch, "a standby");
			break;
		}
		if (r->holder[0] == '\0') {
			timer_off(l, LT_TAKEOVER);
			l->may_take_at = 0;
			if (strcmp(r->handover, l->conf.node) == 0) {
				l->want_acquire = 1;
				break;
			}
			if (l->free_seen_at == 0)
				l->free_seen_at = now;
			wait = (uint64_t)rank_of(l, NULL) * t->interval;
			if (r->handover[0] != '\0')	/* lapses after L */
				wait += t->dead;
			if (!timer_on(l, LT_ACQUIRE))
				lease_timer_at(l, LT_ACQUIRE,
				    l->free_seen_at + wait);
			break;
		}
		l->free_seen_at = 0;
		timer_off(l, LT_ACQUIRE);
		if (!timer_on(l, LT_TAKEOVER) && !l->want_takeover)
			arm_takeover(l, r);
		break;
	default:
		if (mine)
			owe_release(l, r->epoch, role_name(l->role));
		timer_off(l, LT_TAKEOVER);
		timer_off(l, LT_ACQUIRE);
		l->want_takeover = l->want_acquire = 0;
		l->may_take_at = 0;
		break;
	}
	send_seen(l);
}

static void
grant_reply(struct lease *l, uint64_t now, uint64_t sent,
    const struct lease_reply *r)
{
	uint64_t	 first = l->grant_sent != 0 && l->grant_sent < sent ?
			    l->grant_sent : sent;

	if (!r->ok) {
		/* an error: nothing committed; again after the next tick */
		l->grant_sent = 0;
		l->err_wait = 1;
		l->want_poll = 1;
		return;
	}
	if (r->rows != 1) {
		/* none granted by this one; an earlier one may still be */
		l->want_poll = 1;
		return;
	}
	l->grant_sent = 0;
	if (l->role != ROLE_STANDBY) {
		/* it went into maintenance or fault meanwhile */
		owe_release(l, r->epoch, "granted while not a standby");
		return;
	}
	/* with several grants in flight the earliest send is t0 */
	become_active(l, now, r->epoch, first, r->kind == ST_ACQUIRE ?
	    "acquire" : "takeover");
}

static void
renew_reply(struct lease *l, uint64_t now, uint64_t sent,
    const struct lease_reply *r)
{
	struct fo_timing	*t = &l->conf.timing;
	struct renewed_msg	 lm;

	l->renew_sent = 0;
	if (!lease_renewing(l))
		return;
	if (!r->ok) {
		/* no answer is no renewal: the deadline decides */
		l->extended = 1;
		l->next_renew_at = now + t->interval;
		return;
	}
	if (r->rows != 1) {
		lease_lost(l, now, "renewal affected no row");
		return;
	}
	l->t0 = sent;
	l->next_renew_at = sent + t->interval;
	lease_timer_at(l, LT_DEADLINE, l->t0 + t->dead - t->margin);
	l->row.beat = r->beat;
	lm.epoch = l->epoch;
	lm.t0 = l->t0;
	l->out(l->arg, IMSG_LEASE_RENEWED, &lm, sizeof(lm));
	if (r->handover[0] != '\0' && l->role == ROLE_ACTIVE) {
		strlcpy(l->row.handover, r->handover, sizeof(l->row.handover));
		handover_asked(l, l->row.handover);
	}
}

/* The outcome of the statement sent at `sent'. */
void
lease_reply(struct lease *l, uint64_t now, uint64_t sent,
    const struct lease_reply *r)
{
	struct lease_event	*e;
	struct fo_timing	*t = &l->conf.timing;

	if (!r->ok)
		log_warnx("database: %s failed: %s", r->kind == ST_RENEW ?
		    "renewal" : "statement", r->error);
	switch (r->kind) {
	case ST_REGISTER:
		if (!r->ok) {
			l->err_wait = 1;	/* again at the tick */
			break;
		}
		l->registered = 1;
		if (r->maintenance && !l->registered_once && !l->maintenance &&
		    !l->maint_set) {
			l->maintenance = 1;
			log_notice("in maintenance (kept from before)");
			if (l->role == ROLE_STANDBY)
				lease_set_role(l, ROLE_MAINTENANCE, "");
		}
		if (!l->registered_once) {
			l->registered_once = 1;
			lease_event(l, "start", "priority %u", l->conf.priority);
		}
		l->want_poll = 1;
		if (!timer_on(l, LT_TICK))
			lease_timer_at(l, LT_TICK, now + t->interval);
		break;
	case ST_POLL:
		if (r->ok)
			handle_row(l, now, r);
		break;
	case ST_RENEW:
		renew_reply(l, now, sent, r);
		break;
	case ST_ACQUIRE:
	case ST_TAKEOVER:
		grant_reply(l, now, sent, r);
		break;
	case ST_RELEASE:
		if (r->ok && r->rows == 1)
			log_notice("release: epoch %lld%s%s", (long long)
			    (l->release_out == 2 ? l->owed : l->epoch),
			    l->release_out == 1 && l->dm.target[0] ?
			    ", handed over to " : "", l->release_out == 1 ?
			    l->dm.target : "");
		if (l->release_out == 2) {
			if (r->ok)
				l->owed = -1;
			else
				l->err_wait = 1;	/* again at the tick */
		} else if (l->release_out == 1 && l->dm.on &&
		    l->dm.done == 2)
			lease_finish_demotion(l);
		l->release_out = 0;
		l->want_poll = 1;
		break;
	case ST_HANDOVER:
		if (!r->ok || r->rows != 1) {
			lease_req_result(l, l->sw.id, 1, "switchover: no other node "
			    "holds the lease");
			memset(&l->sw, 0, sizeof(l->sw));
			timer_off(l, LT_SWITCH);
		}
		l->want_poll = 1;
		break;
	case ST_NODEROLE:
		break;
	case ST_EVENT:
		if ((e = TAILQ_FIRST(&l->events)) != NULL) {
			TAILQ_REMOVE(&l->events, e, entry);
			free(e);
		}
		break;
	case ST_NONE:
		break;
	}
}
