/*
 * The monitor's part in role changes: what runs when heartbeatd says the
 * role changed (addresses, hooks, the last sync round, dnsd), and the
 * deadlines the monitor keeps by itself, so that a stalled heartbeatd or
 * netd never leaves the application running past t0 + L - S (see
 * failoverd(8), "Roles and the lease").
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "failoverd.h"
#include "log.h"
#include "monitor.h"
#include "timer.h"

static struct timers	*role_timers;
static unsigned int	 rt_demote, rt_kill;
static int		 drop_ok;
static int		 drop_seen;	/* netd answered this demotion's drop */
static int		 forced_demotion;
static int		 self_demoted;	/* the monitor began it at t0 + L - M */
static int		 demote_result = -1;	/* told heartbeatd, or -1 */
static int64_t		 fault_hook_epoch = -2;	/* on-fault ran for it */
static int		 final_sync;	/* the last round of a hand-over runs */

static void		 standby_hook_start(void);
static void		 fault_hook(int64_t, const char *);

void
role_init(struct timers *t, unsigned int demote, unsigned int kill)
{
	role_timers = t;
	rt_demote = demote;
	rt_kill = kill;
}

/* A fault seen here, or its end, as a fact: heartbeatd decides. */
void
role_fault_send(uint32_t src, int ok, const char *fmt, ...)
{
	struct fault_msg f;
	va_list		 ap;

	memset(&f, 0, sizeof(f));
	f.source = src;
	f.ok = ok;
	f.epoch = mon.epoch;
	va_start(ap, fmt);
	vsnprintf(f.reason, sizeof(f.reason), fmt, ap);
	va_end(ap);
	monitor_compose(PROC_HEARTBEAT, IMSG_FAULT, &f, sizeof(f));
}

static void
active_hook_done(enum job_kind kind, int status)
{
	(void)kind;
	if (mon.role != ROLE_ACTIVE)
		return;
	if (status == 0) {
		/* after on-active: the application runs here now */
		alert("takeover", "%s active at epoch %lld (%s)",
		    mon.conf->node, (long long)mon.epoch, mon.reason);
		return;
	}
	alert("hook-failed", "on-active exited %d: demoting", status);
	role_fault_send(FAULT_HOOK, 0, "on-active failed (%d)", status);
}

/* Tell heartbeatd how the demotion ended; kept, to tell it again. */
static void
demote_done(int ok)
{
	struct demote_done_msg	 o;

	demote_result = ok;
	memset(&o, 0, sizeof(o));
	o.ok = ok;
	o.epoch = mon.epoch;
	monitor_compose(PROC_HEARTBEAT, IMSG_DEMOTE_DONE, &o, sizeof(o));
}

static void
standby_hook_done(enum job_kind kind, int status)
{
	struct sync_final_msg sf;

	(void)kind;
	if (status == 0 && drop_ok && !forced_demotion &&
	    mon.conf->sync != NULL) {
		/*
		 * A planned hand-over: the application has stopped, so one
		 * last round ships what it wrote before the lease goes.
		 */
		memset(&sf, 0, sizeof(sf));
		sf.timeout = mon.conf->timing.dead;
		final_sync = 1;
		log_info("demote: a last sync round before the release");
		monitor_compose(PROC_SYNC, IMSG_SYNC_FINAL, &sf, sizeof(sf));
		return;
	}
	if (status != 0)
		alert("hook-failed", "on-standby exited %d", status);
	if (self_demoted && !(status == 0 && drop_ok))
		fault_hook(mon.epoch, "on-standby failed while heartbeatd was "
		    "silent");
	demote_done(status == 0 && drop_ok);
}

/*
 * on-standby after the addresses are gone.  Planned: its own timeout.
 * Forced: M - S at most, and killed at t0 + L - S while that is ahead; a
 * node that wakes up past it (SIGSTOP, a paused VM) still gets M - S to
 * stop the application in order.
 */
static void
standby_hook_start(void)
{
	struct fo_conf	*conf = mon.conf;
	uint32_t	 timeout, ms = conf->timing.margin - conf->timing.slack;
	uint64_t	 hard = 0, now = timer_now();

	timeout = conf->on_standby ? conf->on_standby->timeout : 0;
	if (forced_demotion) {
		if (timeout > ms)
			timeout = ms;
		if (mon.kill_at > now)
			hard = mon.kill_at;
	}
	hooks_run(JOB_ON_STANDBY, conf->on_standby, "standby", mon.epoch,
	    timeout, hard, standby_hook_done);
}

/* The monitor enters fault by itself: on-fault runs, once an epoch. */
static void
fault_hook(int64_t epoch, const char *why)
{
	struct fo_conf	*conf = mon.conf;

	if (fault_hook_epoch == epoch)
		return;
	alert("fault", "%s: %s", conf->node, why);
	fault_hook_epoch = epoch;
	hooks_run(JOB_ON_FAULT, conf->on_fault, "fault", epoch,
	    conf->on_fault ? conf->on_fault->timeout : 0, 0, NULL);
}

/*
 * Leaving the active role: what runs for it is killed, netd drops the
 * addresses, then on-standby runs (standby_hook_start).  The drop must
 * be confirmed by t0 + L - S (rt_kill).
 */
static void
demotion_begin(int forced)
{
	struct vip_drop_msg	 vr;
	uint64_t		 now = timer_now();

	hooks_cancel(JOB_ON_ACTIVE);
	hooks_cancel(JOB_CHECK);
	/* an update not yet done, and the watch of the name, stop */
	if (mon.conf->hostname != NULL) {
		monitor_compose(PROC_DNS, IMSG_DNS_STOP, NULL, 0);
		mon.dns_fault[0] = '\0';
	}
	forced_demotion = forced;
	demote_result = -1;
	alert("demote", "%s leaves the active role (epoch %lld): %s",
	    mon.conf->node, (long long)mon.epoch, mon.reason);
	drop_ok = 0;
	drop_seen = 0;
	memset(&vr, 0, sizeof(vr));
	vr.epoch = mon.epoch;
	monitor_compose(PROC_NET, IMSG_VIP_DROP, &vr, sizeof(vr));
	/* a node that wakes past it (SIGSTOP, a paused VM) gives netd
	 * M - S from now, as it gives on-standby */
	if (mon.kill_at != 0)
		timer_set_at(role_timers, rt_kill, mon.kill_at > now ?
		    mon.kill_at : now + mon.conf->timing.margin -
		    mon.conf->timing.slack);
	if (forced && mon.kill_at != 0 && now >= mon.kill_at)
		log_warnx("demote: already past t0 + L - S: on-standby "
		    "gets M - S from now");
}

/*
 * t0 + L - M passed and heartbeatd said nothing: it may be stalled (a
 * SIGSTOP, a blocked call).  The application must not run past the
 * instant a standby may take over, so the monitor demotes by itself.
 */
void
role_deadline(void)
{
	struct demote_msg	 d;
	uint64_t		 now = timer_now();

	if (mon.role == ROLE_DEMOTING && !forced_demotion) {
		/* a planned demotion ran into the deadline: on-standby is
		 * killed at t0 + L - S now */
		log_warnx("demote: t0 + L - M passed during a planned "
		    "demotion (epoch %lld)", (long long)mon.epoch);
		forced_demotion = 1;
		if (mon.kill_at > now)
			hooks_cap(JOB_ON_STANDBY, mon.kill_at);
		return;
	}
	if (mon.role != ROLE_ACTIVE)
		return;
	log_warnx("demote: t0 + L - M passed with no word from heartbeatd "
	    "(epoch %lld): demoting", (long long)mon.epoch);
	mon.role = ROLE_DEMOTING;
	strlcpy(mon.reason, "lease deadline t0 + L - M passed (monitor)",
	    sizeof(mon.reason));
	self_demoted = 1;
	demotion_begin(1);
	/* and heartbeatd, if it renewed meanwhile, stops acting on it */
	memset(&d, 0, sizeof(d));
	d.reason = DEMOTE_DEADLINE;
	strlcpy(d.detail, mon.reason, sizeof(d.detail));
	monitor_compose(PROC_HEARTBEAT, IMSG_DEMOTE, &d, sizeof(d));
}

/*
 * t0 + L - S passed and netd has not confirmed the drop (it may be
 * stalled): the addresses may still answer, so the node enters fault
 * and on-fault runs, which may fence the application by force.
 */
void
role_kill_deadline(void)
{
	if (mon.role != ROLE_DEMOTING || drop_seen)
		return;
	log_warnx("demote: netd did not confirm the drop by t0 + L - S "
	    "(epoch %lld): fault", (long long)mon.epoch);
	fault_hook(mon.epoch, "netd did not drop the addresses in time");
	demote_done(0);
}

void
role_change(struct role_msg *rm)
{
	struct fo_conf		*conf = mon.conf;
	struct vip_bind_msg	 vr;
	enum role		 old = mon.role;
	uint64_t		 now = timer_now();

	mon.role = rm->role;
	mon.epoch = rm->epoch;
	mon.t0 = rm->t0;
	mon.demote_at = rm->demote_at;
	mon.kill_at = rm->kill_at;
	strlcpy(mon.holder, rm->holder, sizeof(mon.holder));
	strlcpy(mon.reason, rm->reason, sizeof(mon.reason));
	/* syncd sends while active, receives otherwise */
	monitor_compose(PROC_SYNC, IMSG_ROLE, rm, sizeof(*rm));
	/* an update not yet done stops with the active role */
	if (old == ROLE_ACTIVE && rm->role != ROLE_ACTIVE &&
	    conf->hostname != NULL) {
		monitor_compose(PROC_DNS, IMSG_DNS_STOP, NULL, 0);
		mon.dns_fault[0] = '\0';
	}
	if (old != rm->role)
		log_notice("role %s -> %s (epoch %lld)%s%s", role_name(old),
		    role_name(rm->role), (long long)rm->epoch,
		    rm->reason[0] ? ": " : "", rm->reason);

	if (rm->role != ROLE_DEMOTING) {
		self_demoted = 0;
		demote_result = -1;
		timer_stop(role_timers, rt_kill);
	}
	/* kept while demoting too: a planned demotion may run into it */
	if ((rm->role == ROLE_ACTIVE || rm->role == ROLE_DEMOTING) &&
	    rm->demote_at != 0)
		timer_set_at(role_timers, rt_demote, rm->demote_at);
	else
		timer_stop(role_timers, rt_demote);
	if (rm->role == ROLE_ACTIVE || rm->role == ROLE_STANDBY)
		fault_hook_epoch = -2;

	switch (rm->role) {
	case ROLE_ACTIVE:
		if (old == ROLE_ACTIVE)
			break;
		memset(&vr, 0, sizeof(vr));
		vr.epoch = rm->epoch;
		vr.t0 = rm->t0;
		monitor_compose(PROC_NET, IMSG_VIP_BIND, &vr, sizeof(vr));
		if (conf->hostname != NULL) {
			struct dns_update_msg	 lm = { rm->epoch };

			/* the name follows: dnsd updates it until done */
			monitor_compose(PROC_DNS, IMSG_DNS_UPDATE, &lm,
			    sizeof(lm));
		}
		break;
	case ROLE_DEMOTING:
		if (old == ROLE_DEMOTING) {
			hooks_cancel(JOB_ON_ACTIVE);
			hooks_cancel(JOB_CHECK);
			if (rm->forced && !forced_demotion && rm->kill_at > now)
				hooks_cap(JOB_ON_STANDBY, rm->kill_at);
			forced_demotion |= rm->forced;
			/* the monitor demoted by itself while heartbeatd
			 * stalled: it may have missed the answer */
			if (self_demoted && demote_result != -1)
				demote_done(demote_result);
			break;
		}
		demotion_begin(rm->forced);
		break;
	case ROLE_FAULT:
		if (old == ROLE_FAULT || fault_hook_epoch == rm->epoch)
			break;
		alert("fault", "%s: %s", conf->node, rm->reason);
		hooks_run(JOB_ON_FAULT, conf->on_fault, "fault", rm->epoch,
		    conf->on_fault ? conf->on_fault->timeout : 0, 0, NULL);
		break;
	default:
		break;
	}
}


/* t0 moved on: the deadlines with it, and netd extends the addresses. */
void
role_renewed(const struct renewed_msg *lm)
{
	struct fo_conf		*conf = mon.conf;
	struct vip_extend_msg	 vr;

	/* after the monitor's own demotion: no extension */
	if (mon.role != ROLE_ACTIVE || lm->epoch != mon.epoch)
		return;
	mon.t0 = lm->t0;
	mon.demote_at = lm->t0 + conf->timing.dead - conf->timing.margin;
	mon.kill_at = lm->t0 + conf->timing.dead - conf->timing.slack;
	timer_set_at(role_timers, rt_demote, mon.demote_at);
	memset(&vr, 0, sizeof(vr));
	vr.epoch = lm->epoch;
	vr.t0 = lm->t0;
	monitor_compose(PROC_NET, IMSG_VIP_EXTEND, &vr, sizeof(vr));
}

/* netd bound the addresses (then on-active), or could not. */
void
role_vip_bound(const struct vip_bound_msg *o)
{
	struct fo_conf		*conf = mon.conf;
	struct vip_extended_msg	 lm;

	if (mon.role != ROLE_ACTIVE || o->epoch != mon.epoch)
		return;
	if (o->ok && mon.demote_at != 0 && timer_now() >= mon.demote_at) {
		/* the answer came past t0 + L - M (the monitor was stopped or
		 * starved between netd's bind and now): on-active must not
		 * start; the deadline's demotion drops what netd bound.  The
		 * loop runs the deadline timer first, but only when it is due
		 * at the same wake-up; this holds in any order. */
		log_warnx("on-active not started: netd's bind came back past "
		    "t0 + L - M (epoch %lld)", (long long)mon.epoch);
		role_deadline();
		return;
	}
	if (!o->ok) {
		role_fault_send(o->source == FAULT_CONFLICT ? FAULT_CONFLICT :
		    FAULT_VIP, 0, "%s", o->reason);
		return;
	}
	lm.epoch = mon.epoch;
	lm.t0 = mon.t0;
	monitor_compose(PROC_HEARTBEAT, IMSG_VIP_EXTENDED, &lm, sizeof(lm));
	hooks_run(JOB_ON_ACTIVE, conf->on_active, "active", mon.epoch,
	    conf->on_active ? conf->on_active->timeout : 0, 0,
	    active_hook_done);
}

/* netd dropped the addresses of this demotion: on-standby now. */
void
role_vip_dropped(const struct vip_dropped_msg *o)
{
	if (mon.role != ROLE_DEMOTING || drop_seen)
		return;
	drop_seen = 1;
	drop_ok = o->ok;
	timer_stop(role_timers, rt_kill);
	standby_hook_start();
}

/* The last sync round of a planned hand-over ended. */
void
role_sync_final(const struct sync_final_done_msg *o)
{
	if (!final_sync)
		fatalx("unexpected IMSG_SYNC_FINAL_DONE");
	final_sync = 0;
	if (!o->ok)
		log_warnx("demote: the last sync round failed (%s); handing "
		    "over anyway", o->reason);
	else
		log_info("demote: last sync round done");
	demote_done(1);
}
