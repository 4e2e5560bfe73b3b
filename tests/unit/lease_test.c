/*
 * The role state machine (heartbeatd/lease.c) fed events in chosen
 * orders.  A small table stands in for failover_lease and applies each
 * statement as its SQL does (atomically, "only a statement that returns
 * a row"), so a scenario reads as the database sees it; the times are
 * the test's, so every race is replayed exactly.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failoverd.h"
#include "lease.h"
#include "log.h"
#include "tap.h"

#define H	1000
#define L	10000
#define M	2000

/* the table failover_lease, one cluster */
static struct {
	char	 holder[NAME_LEN];
	char	 token[40];
	int64_t	 epoch;
	int64_t	 beat;
	char	 handover[NAME_LEN];
	uint64_t changed_at;
} tab;

struct node {
	struct lease	 l;
	const char	*name;
	char		 token[37];
	struct role_msg	 role;		/* the last IMSG_ROLE */
	int		 nroles;
	struct renewed_msg renewed;	/* the last IMSG_LEASE_RENEWED */
	int		 nrenewed;
	struct lease_stmt st;		/* in flight */
	uint64_t	 sent;
};

/* the nodes of the scenario under way, freed by reset() */
static struct node	*live[3];
static int		 nlive;

static void
out(void *arg, uint32_t type, const void *data, size_t len)
{
	struct node	*n = arg;

	if (type == IMSG_ROLE && len == sizeof(n->role)) {
		memcpy(&n->role, data, len);
		n->nroles++;
	} else if (type == IMSG_LEASE_RENEWED && len == sizeof(n->renewed)) {
		memcpy(&n->renewed, data, len);
		n->nrenewed++;
	}
}

static void
node_init(struct node *n, const char *name, int nnodes)
{
	struct conf_heartbeat	 c;
	struct conf_peer	 p[3];
	const char		*names[] = { "a", "b", "c" };
	int			 i;

	memset(n, 0, sizeof(*n));
	memset(&c, 0, sizeof(c));
	memset(p, 0, sizeof(p));
	strlcpy(c.cluster, "test", sizeof(c.cluster));
	strlcpy(c.node, name, sizeof(c.node));
	c.timing.interval = H;
	c.timing.dead = L;
	c.timing.margin = M;
	c.timing.slack = 500;
	c.timing.timeout = 1000;
	c.priority = 100;
	for (i = 0; i < nnodes; i++) {
		strlcpy(p[i].name, names[i], sizeof(p[i].name));
		p[i].priority = 100;
	}
	n->name = name;
	snprintf(n->token, sizeof(n->token), "token-%s", name);
	lease_init(&n->l, &c, p, nnodes, n->token, out, n);
	if (nlive < 3)
		live[nlive++] = n;
}

/* The statement the node sends now, or ST_NONE. */
static enum stmt
send_at(struct node *n, uint64_t now)
{
	if (!lease_next(&n->l, now, &n->st))
		n->st.kind = ST_NONE;
	n->sent = now;
	return (n->st.kind);
}

/* What the table makes of the statement in flight, at `at'. */
static void
apply(struct node *n, uint64_t at, struct lease_reply *r)
{
	struct lease_stmt	*st = &n->st;
	int			 mine;

	memset(r, 0, sizeof(*r));
	r->kind = st->kind;
	r->ok = 1;
	mine = strcmp(tab.holder, n->name) == 0 &&
	    strcmp(tab.token, n->token) == 0;
	switch (st->kind) {
	case ST_REGISTER:
	case ST_NODEROLE:
	case ST_EVENT:
	case ST_HANDOVER:
		r->rows = 1;
		break;
	case ST_POLL:
		r->rows = 1;
		strlcpy(r->row.holder, tab.holder, sizeof(r->row.holder));
		strlcpy(r->row.token, tab.token, sizeof(r->row.token));
		r->row.epoch = tab.epoch;
		r->row.beat = tab.beat;
		strlcpy(r->row.handover, tab.handover,
		    sizeof(r->row.handover));
		r->row.lease_ms = L;
		break;
	case ST_RENEW:
		if (mine && tab.epoch == st->epoch &&
		    tab.changed_at + (L - M) > at) {
			tab.beat++;
			tab.changed_at = at;
			r->rows = 1;
			r->beat = tab.beat;
		}
		break;
	case ST_TAKEOVER:
	case ST_ACQUIRE:
		if (tab.epoch == st->epoch && (st->kind == ST_ACQUIRE ?
		    tab.holder[0] == '\0' : tab.beat == st->beat)) {
			strlcpy(tab.holder, n->name, sizeof(tab.holder));
			strlcpy(tab.token, n->token, sizeof(tab.token));
			tab.epoch++;
			tab.beat = 0;
			tab.changed_at = at;
			r->rows = 1;
			r->epoch = tab.epoch;
		}
		break;
	case ST_RELEASE:
		if (mine && tab.epoch == st->epoch) {
			tab.holder[0] = tab.token[0] = '\0';
			tab.beat++;
			tab.changed_at = at;
			r->rows = 1;
		}
		break;
	case ST_NONE:
		break;
	}
}

/* The statement in flight is applied at `at' and answered at `now'. */
static void
answer(struct node *n, uint64_t at, uint64_t now)
{
	struct lease_reply	 r;

	apply(n, at, &r);
	n->st.kind = ST_NONE;
	lease_reply(&n->l, now, n->sent, &r);
}

/* Send and answer statements at `now' until the node has nothing to say
 * (or `until' is sent, which stays in flight). */
static void
settle(struct node *n, uint64_t now, enum stmt until)
{
	int	 i;

	for (i = 0; i < 64; i++) {
		if (send_at(n, now) == ST_NONE || n->st.kind == until)
			return;
		answer(n, now, now);
	}
}

/* The registration in flight is answered as if failover_node still kept
 * the node in maintenance from before. */
static void
answer_kept_maintenance(struct node *n, uint64_t now)
{
	struct lease_reply	 r;

	apply(n, now, &r);
	r.maintenance = 1;
	n->st.kind = ST_NONE;
	lease_reply(&n->l, now, n->sent, &r);
}

/* The node is up, registered and started. */
static void
boot(struct node *n, uint64_t now)
{
	lease_db_ready(&n->l, now);
	settle(n, now, ST_NONE);
	lease_ctl_start(&n->l, now, 1, "");
	settle(n, now, ST_NONE);
}

/* The active confirms every extension at once, as netd does. */
static void
extend(struct node *n)
{
	lease_ctl_vip_extended(&n->l, n->l.epoch, n->l.t0);
}

static void
tick(struct node *n, uint64_t now)
{
	(void)lease_timers(&n->l, now);
	lease_notified(&n->l);
}

static void
reset(void)
{
	while (nlive > 0)
		lease_free(&live[--nlive]->l);
	memset(&tab, 0, sizeof(tab));
}

/* a becomes active by acquiring the free lease at t */
static void
make_active(struct node *a, uint64_t t)
{
	boot(a, t);
	tick(a, t + H);
	settle(a, t + H, ST_NONE);
	tick(a, t + H);	/* rank 0: the acquire timer is due at once */
	settle(a, t + H, ST_NONE);
	extend(a);
}

static void
test_takeover_race(void)
{
	struct node	 a, b, c;
	struct lease_reply r;
	uint64_t	 t;

	/* the exact interleaving (three nodes): b takes over from a dead
	 * a; c's timer fires while its poll is in flight, and the poll
	 * returns the lease b took a moment ago */
	reset();
	node_init(&a, "a", 3);
	node_init(&b, "b", 3);
	node_init(&c, "c", 3);
	make_active(&a, 0);
	ok(a.l.role == ROLE_ACTIVE && strcmp(tab.holder, "a") == 0,
	    "a acquires the free lease");
	boot(&b, 1000);
	boot(&c, 1000);
	ok(c.l.take_epoch == 1 && c.l.take_beat == 0 &&
	    c.l.may_take_at == 1000 + L + H,
	    "c arms its takeover timer for (1, 0) at L + 1 x H (rank 1)");
	/* a dies; b (rank 0) takes over first */
	t = 1000 + L;
	tick(&b, t);
	settle(&b, t, ST_NONE);
	ok(b.l.role == ROLE_ACTIVE && strcmp(tab.holder, "b") == 0 &&
	    tab.epoch == 2, "b takes over from the dead a at epoch 2");
	/* c polls; before the answer, its own takeover timer fires */
	t = 1000 + L + H - 1;
	lease_notified(&c.l);
	ok(send_at(&c, t) == ST_POLL, "c's poll is in flight");
	(void)lease_timers(&c.l, t + 1);
	ok(c.l.want_takeover, "c's takeover timer fired meanwhile");
	answer(&c, t, t + 2);
	ok(send_at(&c, t + 2) != ST_TAKEOVER,
	    "the poll showed b's new row: no takeover is sent");
	ok(c.l.take_epoch == 2 && c.l.take_beat == 0 &&
	    c.l.may_take_at == t + 2 + L + H,
	    "the timer is armed again for (2, 0), L + rank x H from that "
	    "reply");
	ok(strcmp(tab.holder, "b") == 0 && tab.epoch == 2,
	    "b keeps its fresh lease");

	/* the row did not change: the takeover names the armed pair */
	reset();
	node_init(&a, "a", 2);
	node_init(&b, "b", 2);
	make_active(&a, 0);
	boot(&b, 1000);
	tick(&b, 1000);
	settle(&b, 1000, ST_NONE);
	t = 1000 + L;
	lease_notified(&b.l);
	ok(send_at(&b, t) == ST_POLL, "b's poll is in flight at L");
	(void)lease_timers(&b.l, t);
	answer(&b, t, t + 5);
	ok(send_at(&b, t + 5) == ST_TAKEOVER && b.st.epoch == 1 &&
	    b.st.beat == 0, "with the row unchanged the takeover names "
	    "(1, 0), the pair its timer was armed for");
	answer(&b, t + 5, t + 6);
	ok(b.l.role == ROLE_ACTIVE && b.l.t0 == t + 5,
	    "b is active, t0 the takeover's send time");

	/* the old bug: a renewal lands between the armed pair and the
	 * takeover; the statement must not name the new beat */
	reset();
	node_init(&a, "a", 2);
	node_init(&b, "b", 2);
	make_active(&a, 0);
	boot(&b, 1000);
	tick(&b, 1000);
	settle(&b, 1000, ST_NONE);
	t = 1000 + L;
	lease_notified(&b.l);
	send_at(&b, t);
	(void)lease_timers(&b.l, t);
	tab.beat = 7;		/* a renewed, late but alive */
	apply(&b, t, &r);
	b.st.kind = ST_NONE;
	lease_reply(&b.l, t + 1, b.sent, &r);
	ok(send_at(&b, t + 1) != ST_TAKEOVER,
	    "a renewal seen by the poll cancels the due takeover");
	ok(strcmp(tab.holder, "a") == 0, "a keeps its lease");
}

static void
test_release_after_forced(void)
{
	struct node	 a, b;
	uint64_t	 t;

	reset();
	node_init(&a, "a", 2);
	node_init(&b, "b", 2);
	make_active(&a, 0);
	boot(&b, 1000);
	lease_ctl_maintenance(&b.l, 1000,
	    &(struct maintenance_msg){ .enter = 1 });
	settle(&b, 1000, ST_NONE);
	ok(b.l.role == ROLE_MAINTENANCE, "b is in maintenance");
	/* the database goes away: a demotes by its deadline */
	t = 1500;
	lease_db_down(&a.l, t, "gone");
	t = a.l.t0 + L - M;
	(void)lease_timers(&a.l, t);
	ok(a.l.role == ROLE_DEMOTING && a.role.forced,
	    "a's deadline passed: a forced demotion");
	lease_ctl_demote_done(&a.l, t + 100, 1, a.l.epoch);
	ok(a.l.role == ROLE_STANDBY, "on-standby ended: a is standby");
	ok(strcmp(tab.holder, "a") == 0, "the row still names a");
	lease_db_ready(&a.l, t + 5000);
	settle(&a, t + 5000, ST_NONE);
	ok(tab.holder[0] == '\0',
	    "a releases its lease as soon as the database answers");
	tick(&a, t + 5000 + H);
	settle(&a, t + 5000 + H, ST_NONE);
	tick(&a, t + 5000 + H);
	settle(&a, t + 5000 + H, ST_NONE);
	ok(a.l.role == ROLE_ACTIVE && tab.epoch == 2,
	    "and, the only standby, acquires it again at epoch 2");

	/* a standby that sees its own token releases it */
	reset();
	node_init(&a, "a", 2);
	boot(&a, 0);
	strlcpy(tab.holder, "a", sizeof(tab.holder));
	strlcpy(tab.token, a.token, sizeof(tab.token));
	tab.epoch = 5;
	tick(&a, H);
	settle(&a, H, ST_NONE);
	ok(tab.holder[0] == '\0' && a.l.role == ROLE_STANDBY,
	    "a standby shown a row with its own token releases it");

	/* a failed on-standby keeps the lease: it runs out instead */
	reset();
	node_init(&a, "a", 2);
	make_active(&a, 0);
	lease_db_down(&a.l, 1500, "gone");
	(void)lease_timers(&a.l, a.l.t0 + L - M);
	lease_ctl_demote_done(&a.l, a.l.t0 + L - M + 10, 0, a.l.epoch);
	ok(a.l.role == ROLE_FAULT, "a failed on-standby: fault");
	lease_db_ready(&a.l, 20000);
	settle(&a, 20000, ST_NONE);
	tick(&a, 21000);
	settle(&a, 21000, ST_NONE);
	ok(strcmp(tab.holder, "a") == 0,
	    "and no release: the application may still run");
}

static void
test_grant_while_not_standby(void)
{
	struct node	 a;

	reset();
	node_init(&a, "a", 2);
	boot(&a, 0);
	tick(&a, H);
	settle(&a, H, ST_ACQUIRE);
	ok(a.st.kind == ST_ACQUIRE, "a sends an acquire");
	lease_ctl_maintenance(&a.l, H + 1,
	    &(struct maintenance_msg){ .enter = 1 });
	answer(&a, H + 1, H + 2);
	ok(a.l.role == ROLE_MAINTENANCE && a.nroles > 0 &&
	    a.role.role == ROLE_MAINTENANCE,
	    "the grant arrives in maintenance: no fatal error, no active role");
	settle(&a, H + 2, ST_NONE);
	ok(tab.holder[0] == '\0', "and the granted lease is released");

	/* a grant whose reply was lost is released, not acted on */
	reset();
	node_init(&a, "a", 2);
	boot(&a, 0);
	tick(&a, H);
	settle(&a, H, ST_ACQUIRE);
	{
		struct lease_reply r;

		apply(&a, H, &r);	/* commits; the reply is lost */
	}
	a.st.kind = ST_NONE;
	lease_db_down(&a.l, H + 100, "gone");
	lease_db_ready(&a.l, H + 300);
	settle(&a, H + 300, ST_NONE);
	ok(a.l.role == ROLE_STANDBY && a.role.role != ROLE_ACTIVE,
	    "a grant whose reply was lost never makes the node active");
	ok(tab.holder[0] == '\0' && tab.epoch == 1,
	    "its lease (epoch 1) is released");
}

static void
test_t0(void)
{
	struct node	 a, b;
	uint64_t	 t;

	reset();
	node_init(&a, "a", 2);
	make_active(&a, 0);
	t = a.l.t0 + H;
	(void)lease_timers(&a.l, t);
	ok(send_at(&a, t) == ST_RENEW, "a renews after H");
	answer(&a, t + 400, t + 900);
	ok(a.nrenewed == 1 && a.renewed.t0 == t,
	    "t0 is when the renewal was sent (%llu), not answered",
	    (unsigned long long)a.renewed.t0);
	ok(a.role.demote_at == 0 || a.l.t0 + L - M == t + L - M,
	    "the deadline moves to t0 + L - M");

	/* two takeovers in flight: the earliest send counts */
	reset();
	node_init(&a, "a", 2);
	node_init(&b, "b", 2);
	make_active(&a, 0);
	boot(&b, 1000);
	tick(&b, 1000);
	settle(&b, 1000, ST_NONE);
	t = 1000 + L;
	(void)lease_timers(&b.l, t);
	ok(send_at(&b, t) == ST_TAKEOVER, "b sends a takeover at %llu",
	    (unsigned long long)t);
	b.st.kind = ST_NONE;	/* waits on a lock; the connection drops */
	lease_db_down(&b.l, t + 1000, "no answer");
	lease_db_ready(&b.l, t + 1100);
	settle(&b, t + 1100, ST_NONE);
	tick(&b, t + 1100);
	settle(&b, t + 1100, ST_TAKEOVER);
	ok(b.st.kind == ST_TAKEOVER && b.st.epoch == 1, "and again at %llu "
	    "on a new connection", (unsigned long long)t + 1100);
	answer(&b, t + 1100, t + 1200);
	ok(b.l.role == ROLE_ACTIVE && b.l.t0 == t,
	    "active with t0 = the first send (%llu)",
	    (unsigned long long)b.l.t0);
}

static void
test_resume_while_down(void)
{
	struct node	 a;

	reset();
	node_init(&a, "a", 2);
	boot(&a, 0);
	lease_ctl_maintenance(&a.l, 10,
	    &(struct maintenance_msg){ .enter = 1 });
	settle(&a, 10, ST_NONE);
	lease_db_down(&a.l, 100, "gone");
	lease_ctl_maintenance(&a.l, 200,
	    &(struct maintenance_msg){ .enter = 0 });
	ok(a.l.role == ROLE_STANDBY, "resume while the database is down");
	lease_db_ready(&a.l, 1000);
	ok(send_at(&a, 1000) == ST_REGISTER && !a.st.keep_maintenance,
	    "the registration after it does not keep the old maintenance");
	answer_kept_maintenance(&a, 1000);
	ok(a.l.role == ROLE_STANDBY, "and the resume is not undone");
}

static void
test_faults(void)
{
	struct node	 a;
	struct fault_msg f;

	reset();
	node_init(&a, "a", 2);
	boot(&a, 0);
	memset(&f, 0, sizeof(f));
	f.source = FAULT_LINK;
	strlcpy(f.reason, "link: eth0 is down", sizeof(f.reason));
	lease_ctl_fault(&a.l, 10, &f);
	ok(a.l.role == ROLE_FAULT, "a link fault on a standby: fault");
	f.source = FAULT_CHECK;
	f.ok = 1;
	lease_ctl_fault(&a.l, 20, &f);
	ok(a.l.role == ROLE_FAULT, "a check's recovery does not clear it");
	f.source = FAULT_LINK;
	lease_ctl_fault(&a.l, 30, &f);
	ok(a.l.role == ROLE_STANDBY, "the link's does");
	f.source = FAULT_CONFLICT;
	f.ok = 0;
	lease_ctl_fault(&a.l, 40, &f);
	f.ok = 1;
	lease_ctl_fault(&a.l, 50, &f);
	ok(a.l.role == ROLE_FAULT, "a conflict clears only by resume");

	reset();
	node_init(&a, "a", 2);
	make_active(&a, 0);
	memset(&f, 0, sizeof(f));
	f.source = FAULT_HOOK;
	strlcpy(f.reason, "on-active failed (1)", sizeof(f.reason));
	lease_ctl_fault(&a.l, 2000, &f);
	ok(a.l.role == ROLE_DEMOTING && !a.role.forced,
	    "a failed on-active demotes the active, planned");
	lease_ctl_demote_done(&a.l, 2100, 1, a.l.epoch);
	settle(&a, 2100, ST_NONE);
	ok(a.l.role == ROLE_FAULT && tab.holder[0] == '\0',
	    "then fault, with the lease released");
}

static void
test_resume_before_registration(void)
{
	struct node	 a;

	/* maintenance kept from before the restart; the database is down
	 * at start and the operator resumes before it answers */
	reset();
	node_init(&a, "a", 2);
	lease_ctl_start(&a.l, 0, 1, "");
	lease_ctl_maintenance(&a.l, 10,
	    &(struct maintenance_msg){ .enter = 0 });
	lease_db_ready(&a.l, 1000);
	ok(send_at(&a, 1000) == ST_REGISTER && !a.st.keep_maintenance,
	    "a resume before the first registration: it keeps no old "
	    "maintenance");
	answer_kept_maintenance(&a, 1000);
	ok(a.l.role == ROLE_STANDBY, "and the node stays standby");
}

static void
test_faults_kept(void)
{
	struct node	 a;
	struct fault_msg f;

	/* the check fails on the active and recovers during on-standby */
	reset();
	node_init(&a, "a", 2);
	make_active(&a, 0);
	memset(&f, 0, sizeof(f));
	f.source = FAULT_CHECK;
	strlcpy(f.reason, "check failed 3 times", sizeof(f.reason));
	lease_ctl_fault(&a.l, 2000, &f);
	ok(a.l.role == ROLE_DEMOTING, "a failing check demotes the active");
	f.ok = 1;
	lease_ctl_fault(&a.l, 2050, &f);
	lease_ctl_demote_done(&a.l, 2100, 1, a.l.epoch);
	settle(&a, 2100, ST_NONE);
	ok(a.l.role == ROLE_STANDBY && tab.holder[0] == '\0',
	    "the check recovered during on-standby: standby, not fault");

	/* a check that fails in maintenance still counts at resume */
	reset();
	node_init(&a, "a", 2);
	boot(&a, 0);
	lease_ctl_maintenance(&a.l, 10,
	    &(struct maintenance_msg){ .enter = 1 });
	f.ok = 0;
	lease_ctl_fault(&a.l, 20, &f);
	ok(a.l.role == ROLE_MAINTENANCE, "a failing check in maintenance");
	lease_ctl_maintenance(&a.l, 30,
	    &(struct maintenance_msg){ .enter = 0 });
	ok(a.l.role == ROLE_FAULT, "resume: fault, since the check still "
	    "fails");
	f.ok = 1;
	lease_ctl_fault(&a.l, 40, &f);
	ok(a.l.role == ROLE_STANDBY, "and standby once it passes");

	/* a link fault seen while starting stands after the start */
	reset();
	node_init(&a, "a", 2);
	memset(&f, 0, sizeof(f));
	f.source = FAULT_LINK;
	lease_ctl_fault(&a.l, 0, &f);
	lease_ctl_start(&a.l, 10, 1, "");
	ok(a.l.role == ROLE_FAULT, "a link down at start: fault after the "
	    "start too");
}

static void
test_no_spin(void)
{
	struct node		 a;
	struct lease_reply	 r;

	/* a registration that fails waits for the tick */
	reset();
	node_init(&a, "a", 2);
	lease_db_ready(&a.l, 0);
	ok(send_at(&a, 0) == ST_REGISTER, "a registers");
	memset(&r, 0, sizeof(r));
	r.kind = ST_REGISTER;
	strlcpy(r.error, "permission denied", sizeof(r.error));
	a.st.kind = ST_NONE;
	lease_reply(&a.l, 5, 0, &r);
	ok(send_at(&a, 5) == ST_NONE, "it failed: nothing is sent again "
	    "at once");
	(void)lease_timers(&a.l, H);
	ok(send_at(&a, H) == ST_REGISTER, "the tick tries again");

	/* a takeover that fails waits too, and leaves no t0 behind */
	reset();
	node_init(&a, "a", 2);
	boot(&a, 0);
	strlcpy(tab.holder, "b", sizeof(tab.holder));
	strlcpy(tab.token, "token-b", sizeof(tab.token));
	tab.epoch = 1;
	tick(&a, H);
	settle(&a, H, ST_NONE);
	(void)lease_timers(&a.l, H + L);
	ok(send_at(&a, H + L) == ST_TAKEOVER, "a sends a takeover");
	memset(&r, 0, sizeof(r));
	r.kind = ST_TAKEOVER;
	strlcpy(r.error, "lock timeout", sizeof(r.error));
	a.st.kind = ST_NONE;
	lease_reply(&a.l, H + L + 5, H + L, &r);
	settle(&a, H + L + 5, ST_TAKEOVER);
	(void)lease_timers(&a.l, H + L + 6);
	ok(send_at(&a, H + L + 6) != ST_TAKEOVER && a.l.grant_sent == 0,
	    "it failed: no takeover again before the tick, no t0 kept");
}

static void
test_monitor_deadline(void)
{
	struct node	 a;

	reset();
	node_init(&a, "a", 2);
	make_active(&a, 0);
	lease_ctl_demote(&a.l, 1500, &(struct demote_msg){ DEMOTE_DEADLINE, 0,
	    "", "the monitor's deadline" });
	ok(a.l.role == ROLE_DEMOTING && a.role.forced,
	    "the monitor demoted by itself: heartbeatd's demotion is forced");
	lease_ctl_demote_done(&a.l, 1600, 1, a.l.epoch);
	settle(&a, 1600, ST_NONE);
	ok(a.l.role == ROLE_STANDBY && tab.holder[0] == '\0',
	    "standby, and the lease released");
}

int
main(void)
{
	log_init(1, 0);
	log_procinit("lease_test");
	test_takeover_race();
	test_release_after_forced();
	test_grant_while_not_standby();
	test_t0();
	test_resume_while_down();
	test_faults();
	test_resume_before_registration();
	test_faults_kept();
	test_no_spin();
	test_monitor_deadline();
	reset();
	return (tap_done());
}
