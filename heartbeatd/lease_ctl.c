/*
 * heartbeatd: what the monitor asks of the lease's state machine (see
 * lease.c): the end of the start hook, a confirmed VIP extension, a
 * demotion and its end, faults, switchover, maintenance and stop.  Pure,
 * as lease.c: every input comes with its time.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "failoverd.h"
#include "lease.h"
#include "log.h"

void
lease_ctl_start(struct lease *l, uint64_t now, int ok, const char *why)
{
	const char	*w;
	enum role	 r;

	(void)now;
	l->started = 1;
	if (!ok) {
		l->fault_src = FAULT_HOOK;
		l->unclean = 1;
		lease_set_role(l, ROLE_FAULT, why);
	} else if (l->role == ROLE_FAULT && !lease_fault_clears(l->fault_src))
		;	/* a fault seen while starting stands */
	else {
		r = lease_calm_role(l, &w);
		lease_set_role(l, r, w);
	}
	l->want_poll = 1;
}

void
lease_ctl_vip_extended(struct lease *l, int64_t epoch, uint64_t t0)
{
	if (epoch == l->epoch && t0 == l->t0 && lease_renewing(l))
		l->extended = 1;
}

/* The monitor asks for a planned demotion (shutdown, switchover). */
void
lease_ctl_demote(struct lease *l, uint64_t now, const struct demote_msg *d)
{
	const char	*target;

	if (d->reason == DEMOTE_DEADLINE) {
		/* the monitor demoted by itself: a renewal it did not pass on
		 * to netd must not keep this process active */
		lease_lost(l, now, "the monitor's deadline t0 + L - M passed");
		return;
	}
	if (l->role != ROLE_ACTIVE)
		return;
	target = d->target[0] ? d->target : rank_best_standby(l);
	lease_start_demotion(l, 0, d->reason, target, ROLE_STANDBY, 0, d->detail);
}

/*
 * The addresses are dropped and on-standby ended (ok), or not.  The lease
 * is released after a forced demotion too, as soon as the database
 * answers; otherwise it runs out and a standby takes over.
 */
void
lease_ctl_demote_done(struct lease *l, uint64_t now, int ok, int64_t epoch)
{
	(void)now;
	if (!l->dm.on || epoch != l->epoch)
		return;
	l->dm.ok = ok;
	if (!ok) {
		lease_finish_demotion(l);
		return;
	}
	if (l->dm.forced) {
		l->owed = l->epoch;
		lease_finish_demotion(l);
		return;
	}
	if (l->dm.target[0] != '\0' && !rank_live_standby(l, l->dm.target))
		l->dm.target[0] = '\0';
	l->dm.done = 1;
	if (!l->db_ready) {
		/* release when it answers; demoted meanwhile */
		l->owed = l->epoch;
		lease_finish_demotion(l);
	}
}

/* A fault observed by another process, or its end: heartbeatd decides. */
void
lease_ctl_fault(struct lease *l, uint64_t now, const struct fault_msg *f)
{
	const char	*why;
	enum role	 r;

	(void)now;
	if (f->source == FAULT_SYNC || f->source == FAULT_DB)
		return;		/* alerts, not roles */
	/* kept whatever the role: a fault seen in maintenance or during a
	 * demotion still counts when the node settles */
	if (lease_fault_clears(f->source)) {
		if (f->ok)
			l->faulty &= ~(1U << f->source);
		else {
			l->faulty |= 1U << f->source;
			strlcpy(l->fault_why[f->source], f->reason,
			    sizeof(l->fault_why[0]));
		}
	}
	if (f->ok) {
		if (l->role == ROLE_FAULT && l->fault_src == f->source &&
		    lease_fault_clears(f->source)) {
			lease_event(l, "resume", "%s healthy again",
			    fault_name(f->source));
			l->fault_src = 0;
			r = lease_calm_role(l, &why);
			lease_set_role(l, r, why);
		}
		return;
	}
	switch (l->role) {
	case ROLE_ACTIVE:
		l->fault_src = f->source;
		lease_start_demotion(l, 0, DEMOTE_FAULT, rank_best_standby(l),
		    ROLE_FAULT, 0, f->reason);
		break;
	case ROLE_STANDBY:
	case ROLE_STARTING:
		l->fault_src = f->source;
		lease_event(l, "fault", "%s", f->reason);
		lease_set_role(l, ROLE_FAULT, f->reason);
		break;
	default:
		break;
	}
}

void
lease_ctl_switchover(struct lease *l, uint64_t now,
    const struct switchover_msg *so)
{
	const char	*target = so->target[0] ? so->target : NULL;
	struct fo_timing *t = &l->conf.timing;

	if (l->sw.id != 0 || l->dm.on) {
		lease_req_result(l, so->id, 1, "switchover: one is already under "
		    "way");
		return;
	}
	if (target != NULL && rank_node(l, target) == NULL) {
		lease_req_result(l, so->id, 1, "switchover: no node %s in the "
		    "configuration", target);
		return;
	}
	if (!l->db_ready) {
		lease_req_result(l, so->id, 1, "switchover: the database is down");
		return;
	}
	if (l->role == ROLE_ACTIVE) {
		if (target == NULL && (target = rank_best_standby(l)) == NULL) {
			lease_req_result(l, so->id, 1, "switchover: no live standby "
			    "to hand over to");
			return;
		}
		if (!rank_live_standby(l, target)) {
			lease_req_result(l, so->id, 1, "switchover: %s is not a live "
			    "standby", target);
			return;
		}
		l->sw.id = so->id;
		l->sw.from_epoch = l->epoch;
		strlcpy(l->sw.target, target, sizeof(l->sw.target));
		lease_event(l, "switchover", "to %s", target);
		lease_start_demotion(l, 0, DEMOTE_SWITCHOVER, target, ROLE_STANDBY,
		    0, "switchover");
	} else {
		if (target == NULL && (target = rank_best_standby(l)) == NULL &&
		    l->role == ROLE_STANDBY)
			target = l->conf.node;
		if (target == NULL) {
			lease_req_result(l, so->id, 1, "switchover: no live standby "
			    "to hand over to");
			return;
		}
		if (strcmp(target, l->conf.node) != 0 &&
		    !rank_live_standby(l, target)) {
			lease_req_result(l, so->id, 1, "switchover: %s is not a live "
			    "standby", target);
			return;
		}
		if (strcmp(target, l->conf.node) == 0 &&
		    l->role != ROLE_STANDBY) {
			lease_req_result(l, so->id, 1, "switchover: this node is %s",
			    role_name(l->role));
			return;
		}
		l->sw.id = so->id;
		l->sw.from_epoch = l->row.epoch;
		l->sw.want_handover = 1;
		strlcpy(l->sw.target, target, sizeof(l->sw.target));
	}
	lease_timer_at(l, LT_SWITCH, now + 2ULL * t->dead);
}

/* Enter maintenance (failoverctl standby), or resume. */
void
lease_ctl_maintenance(struct lease *l, uint64_t now,
    const struct maintenance_msg *mm)
{
	const char	*target;

	(void)now;
	l->maint_set = 1;
	if (mm->enter) {
		if (l->role == ROLE_ACTIVE) {
			if ((target = rank_best_standby(l)) == NULL) {
				lease_req_result(l, mm->id, 1, "standby: no live "
				    "standby to hand over to first");
				return;
			}
			lease_event(l, "switchover", "to %s, then maintenance",
			    target);
			lease_start_demotion(l, 0, DEMOTE_MAINTENANCE, target,
			    ROLE_MAINTENANCE, mm->id, "maintenance");
			return;
		}
		if (l->role == ROLE_DEMOTING) {
			lease_req_result(l, mm->id, 1, "standby: a demotion is under "
			    "way");
			return;
		}
		l->maintenance = 1;
		if (l->role != ROLE_MAINTENANCE) {
			lease_event(l, "maintenance", NULL);
			lease_set_role(l, ROLE_MAINTENANCE, "");
		}
		lease_req_result(l, mm->id, 0, "in maintenance");
		return;
	}
	/* resume: leave maintenance, clear a fault */
	if (l->role == ROLE_MAINTENANCE || l->role == ROLE_FAULT) {
		const char	*why;
		enum role	 r;

		l->maintenance = 0;
		l->fault_src = 0;
		l->unclean = 0;
		lease_event(l, "resume", "was %s", role_name(l->role));
		r = lease_calm_role(l, &why);
		if (r == ROLE_FAULT) {
			/* a check or a link that still fails */
			lease_set_role(l, r, why);
			lease_req_result(l, mm->id, 1, "resume: still in fault: %s",
			    why);
			return;
		}
		lease_set_role(l, l->started ? r : ROLE_STARTING, "");
		l->want_poll = 1;
		lease_req_result(l, mm->id, 0, "resumed: standby");
		return;
	}
	l->maintenance = 0;
	lease_req_result(l, mm->id, 0, "nothing to resume: %s", role_name(l->role));
}

void
lease_ctl_stop(struct lease *l, uint64_t now)
{
	if (l->stopping)
		return;
	l->stopping = 1;
	lease_event(l, "stop", NULL);
	lease_timer_at(l, LT_STOP, now + l->conf.timing.timeout);
}
