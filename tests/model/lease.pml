/*
 * The lease protocol of failoverd as a Promela model, checked by spin.
 *
 * What is modelled, and which function of the code each step stands for,
 * is written next to each step; tests/model/README says what the model
 * assumes about time and what it leaves out.  The configuration comes
 * from cpp: -DN=2 or 3 nodes, -DCLONE=1 (a second process under node 1's
 * name on a host of its own), -DKLIFE=0/1 (the kernel lifetime of a VIP,
 * dead >= 3 s), the budgets of faults below, and the mutations MUT_*,
 * each of which puts back a bug the code does not have.
 *
 * Time is one clock in ticks (CLOCK_BOOTTIME on every node runs at the
 * same rate); the tick may pass an instant only when every process that
 * runs and has a deadline at that instant has acted on it.  A paused
 * process holds no deadline: time runs past it.  Instants are kept as
 * ages (ticks since) and timers as ticks left, capped where no rule looks
 * further, so that the model is finite without an end of time.
 */

#ifndef N
#define N	2
#endif
#ifndef CLONE
#define CLONE	0
#endif
#define NI	(N + CLONE)	/* instances: processes with a host each */
#ifndef KLIFE
#define KLIFE	1
#endif
#ifndef PROBE		/* the ARP probe before a bind (IPv4, probe yes) */
#define PROBE	1
#endif
#ifndef EMAX		/* grants: the epochs the model runs through */
#define EMAX	3
#endif
#ifndef FAULTS		/* replies lost, statements orphaned, on-standby */
#define FAULTS	2	/* failing */
#endif
#ifndef PAUSES		/* SIGSTOP of heartbeatd or netd, VM freezes */
#define PAUSES	1
#endif
#ifndef RESTARTS	/* kill -9 and a start with a new token */
#define RESTARTS 1
#endif
#ifndef OPS		/* switchover, maintenance, fault, resume */
#define OPS	1
#endif
#ifndef PAUSEKIND	/* 1 heartbeatd, 2 netd, 4 the whole VM: a mask */
#define PAUSEKIND 7
#endif

/* timing, in ticks: the parser's rules hold (S < M, L - M >= 2H + Q) */
#define H	1
#define Q	1
#define L	5
#define M	2
#define S	1
#ifndef BEATS		/* renewals an epoch lasts: see README */
#define BEATS	8
#endif
#define AGE(x, c)	if :: x < (c) -> x++ :: else fi
#define LEFT(x)	if :: x > 0 -> x-- :: else fi

/* roles (enum role) */
#define STANDBY		1
#define ACTIVE		2
#define DEMOTING	3
#define FAULT		4
#define MAINT		5
#define DOWN		6	/* killed, not started again yet */

/* statements (enum lease_stmt_kind) */
#define S_POLL		1
#define S_RENEW		2
#define S_TAKEOVER	3
#define S_ACQUIRE	4
#define S_RELEASE	5
#define S_HANDOVER	6

/* the monitor's side of a role (monitor/role.c) */
#define M_IDLE		0
#define M_BINDING	1	/* IMSG_VIP_BIND sent */
#define M_ACTIVE	2	/* on-active ran: the application runs */
#define M_DROPPING	3	/* demotion_begin: IMSG_VIP_DROP sent */
#define M_STANDBY	4	/* on-standby runs */

/* the row of failover_lease; names are 1..N, 0 is NULL */
byte	r_holder, r_tok, r_epoch, r_beat, r_ho;
byte	r_cage;			/* ticks since changed_at */

byte	maxact;			/* the highest epoch a VIP was bound at */
byte	faults, pauses, restarts, ops, ntok = NI;

/* each instance: its name and token, heartbeatd (lease.c) */
byte	nm[NI], tok[NI];
byte	role[NI], hep[NI], owed[NI];
byte	t0age[NI];		/* ticks since t0 */
bool	gon[NI];		/* grant_sent: a grant is out, sent gage ago */
byte	gage[NI];
bool	ext[NI], unclean[NI], maint[NI];
/* the row as heartbeatd last read it (l->row), and when (row_seen_at) */
bool	vvalid[NI], vmine[NI];
byte	ve[NI], vb[NI], vh[NI], vho[NI], vage[NI];
bool	polled[NI];		/* a poll went out in this tick */
/* the takeover armed for (tk_e, tk_b), the acquire timer */
bool	tk_valid[NI], want_take[NI], want_acq[NI], tk_on[NI], aq_on[NI];
bool	free_on[NI];
byte	tk_e[NI], tk_b[NI], tk_left[NI], aq_left[NI], free_age[NI];
/* the demotion (l->dm) */
bool	dm_on[NI], dm_forced[NI], dm_ok[NI];
byte	dm_done[NI], dm_then[NI], dm_target[NI];
/* the statement on the connection, and its reply */
byte	st_k[NI], st_e[NI], st_b[NI], st_arg[NI], st_age[NI];
bool	st_done[NI], st_late[NI], rp[NI];
byte	rp_rows[NI], rp_e[NI], rp_b[NI], rp_h[NI], rp_tok[NI], rp_ho[NI];
/* a statement whose connection was dropped: it may still run, later */
byte	or_k[NI], or_e[NI], or_b[NI], or_arg[NI], or_tok[NI];
/* the monitor, and messages from it to heartbeatd */
byte	m_state[NI], m_t0age[NI], m_report[NI];	/* report: 1 ok, 2 failed */
bool	m_demote[NI], app[NI], m_fault[NI];
byte	mon_role[NI];
/* netd and the kernel */
bool	vip[NI], klife[NI], ndl[NI], n_ext[NI];
byte	k_age[NI], n_age[NI];	/* the t0 the kernel's lifetime, netd's
				 * deadline count from */
byte	n_req[NI], n_res[NI], n_ext_age[NI];
/* pauses */
bool	p_hb[NI], p_nd[NI], frz[NI], woke_late[NI];
/* a switchover asked for on an instance: the target's name */
byte	sw_ask[NI];

#define RUN_HB(k)	(!p_hb[k] && !frz[k] && role[k] != DOWN)
#define RUN_ND(k)	(!p_nd[k] && !frz[k] && role[k] != DOWN)
#define RUN_MON(k)	(!frz[k] && role[k] != DOWN)
#define RENEWING(k)	(role[k] == ACTIVE || (role[k] == DEMOTING && !dm_forced[k]))

/* rank_of: the nodes of higher priority (lower name) than k's, leaving
 * out `excl' (the holder, for a takeover); the caller declares ri, rk */
inline rank(k, excl) {
	rk = 0;
	ri = 1;
	do
	:: ri < nm[k] -> if :: ri != excl -> rk++ :: else fi; ri++
	:: else -> break
	od;
	ri = 0
}

/* lease_start_demotion */
inline start_demotion(k, forced, then, target) {
	dm_on[k] = 1;
	dm_forced[k] = forced;
	dm_ok[k] = 0;
	dm_done[k] = 0;
	dm_then[k] = then;
	dm_target[k] = target;
	role[k] = DEMOTING;
	printf("MSC: %d demoting, forced %d\n", k, forced)
}

/* lease_finish_demotion */
inline finish_demotion(k) {
	if
	:: !dm_ok[k] -> role[k] = FAULT; unclean[k] = 1
	:: else ->
		if
		:: dm_then[k] == MAINT -> maint[k] = 1; role[k] = MAINT
		:: dm_then[k] == FAULT -> role[k] = FAULT
		:: else -> role[k] = (maint[k] -> MAINT : STANDBY)
		fi
	fi;
	printf("MSC: %d demotion done: role %d\n", k, role[k]);
	dm_on[k] = 0;
	dm_forced[k] = 0;
	dm_done[k] = 0;
	dm_ok[k] = 0;
	dm_then[k] = 0;
	dm_target[k] = 0
}

/* lease_lost: the lease is gone or going */
inline lease_lost(k) {
	if
	:: RENEWING(k) ->
		ext[k] = 0;
		if
		:: role[k] == DEMOTING ->
			dm_forced[k] = 1;
			if
			:: dm_done[k] != 0 -> owed[k] = hep[k]; finish_demotion(k)
			:: else
			fi
		:: else -> start_demotion(k, 1, STANDBY, 0)
		fi
	:: else
	fi
}

/* owe_release */
inline owe_release(k, e) {
	if
#ifndef MUT_NORELEASE
	:: !unclean[k] && owed[k] != e -> owed[k] = e
#endif
	:: else
	fi
}

/* become_active: t0 is the earliest grant's send, `age' ticks ago */
inline become_active(k, e, age) {
	hep[k] = e;
	t0age[k] = age;
	ext[k] = 0;
	gon[k] = 0;
	gage[k] = 0;
	dm_on[k] = 0;
	dm_done[k] = 0;
	tk_on[k] = 0;
	tk_left[k] = 0;
	aq_on[k] = 0;
	aq_left[k] = 0;
	want_take[k] = 0;
	want_acq[k] = 0;
	tk_valid[k] = 0;
	vh[k] = nm[k];
	vmine[k] = 1;
	ve[k] = e;
	vb[k] = 0;
	role[k] = ACTIVE;
	printf("MSC: %d active at epoch %d (t0 %d ticks ago)\n", k, e, age);
	if
	:: t0age[k] >= L - M -> lease_lost(k)
	:: else
	fi
}

/* handle_row: a poll's reply */
inline handle_row(k) {
	changed = (!vvalid[k] || ve[k] != rp_e[k] || vb[k] != rp_b[k]);
	if
	:: changed -> vage[k] = 0
	:: else
	fi;
	vvalid[k] = 1;
	ve[k] = rp_e[k];
	vb[k] = rp_b[k];
	vh[k] = rp_h[k];
	vho[k] = rp_ho[k];
#ifdef MUT_NOTOKEN
	vmine[k] = (rp_h[k] == nm[k]);
#else
	vmine[k] = (rp_h[k] == nm[k] && rp_tok[k] == tok[k]);
#endif
#ifndef MUT_TAKERACE
	/* a takeover not yet sent is for the (epoch, beat) it was armed for */
	if
	:: changed -> want_take[k] = 0; tk_on[k] = 0; tk_left[k] = 0;
		tk_valid[k] = 0
	:: else
	fi;
#endif
	if
	:: changed && !vmine[k] -> gon[k] = 0; gage[k] = 0
	:: else
	fi;
	if
	:: role[k] == ACTIVE ->
		if
		:: !vmine[k] || ve[k] != hep[k] -> lease_lost(k)
		:: else ->
			/* handover_asked */
			if
			:: vho[k] != 0 && vho[k] != nm[k] && !dm_on[k] ->
				start_demotion(k, 0, STANDBY, vho[k])
			:: else
			fi
		fi
	:: role[k] == DEMOTING -> skip
	:: role[k] == STANDBY ->
		if
		:: vmine[k] -> owe_release(k, ve[k])
		:: !vmine[k] && vh[k] == 0 ->
			tk_on[k] = 0;
			tk_left[k] = 0;
			if
			:: vho[k] == nm[k] -> want_acq[k] = 1
			:: else ->
				if
				:: !free_on[k] -> free_on[k] = 1; free_age[k] = 0
				:: else
				fi;
				if
				:: !aq_on[k] ->
					rank(k, 0);
					t = rk * H + (vho[k] != 0 -> L : 0);
					aq_on[k] = 1;
					aq_left[k] = (t > free_age[k] ->
					    t - free_age[k] : 0);
					rk = 0;
					t = 0
				:: else
				fi
			fi
		:: else ->
			free_on[k] = 0;
			free_age[k] = 0;
			aq_on[k] = 0;
			aq_left[k] = 0;
			if
			:: !tk_on[k] && !want_take[k] ->
				/* arm_takeover: row_seen_at + wait */
				rank(k, vh[k]);
				t = L + rk * H;
				tk_on[k] = 1;
				tk_left[k] = (t > vage[k] -> t - vage[k] : 0);
				tk_e[k] = ve[k];
				tk_b[k] = vb[k];
				tk_valid[k] = 1;
				rk = 0;
				t = 0
			:: else
			fi
		fi
	:: else ->
		if
		:: vmine[k] -> owe_release(k, ve[k])
		:: else
		fi;
		tk_on[k] = 0;
		tk_left[k] = 0;
		aq_on[k] = 0;
		aq_left[k] = 0;
		want_take[k] = 0;
		want_acq[k] = 0
	fi;
	changed = 0
}

/* lease_reply */
inline handle_reply(k) {
	if
	:: st_k[k] == S_POLL -> handle_row(k)
	:: st_k[k] == S_RENEW ->
		/* renew_reply */
		if
		:: !RENEWING(k) -> skip
		:: rp_rows[k] != 1 -> lease_lost(k)
		:: else ->
			t0age[k] = st_age[k];
			vb[k] = rp_b[k];
			/* IMSG_LEASE_RENEWED: role_renewed, then netd */
			if
			:: m_state[k] == M_ACTIVE -> m_t0age[k] = st_age[k];
				n_ext[k] = 1; n_ext_age[k] = st_age[k]
			:: else
			fi;
			if
			:: rp_ho[k] != 0 && rp_ho[k] != nm[k] &&
			    role[k] == ACTIVE && !dm_on[k] ->
				start_demotion(k, 0, STANDBY, rp_ho[k])
			:: else
			fi
		fi
	:: st_k[k] == S_TAKEOVER || st_k[k] == S_ACQUIRE ->
		/* grant_reply */
		if
		:: rp_rows[k] != 1 -> skip
		:: else ->
			t = ((gon[k] && gage[k] > st_age[k]) -> gage[k] :
			    st_age[k]);
			gon[k] = 0;
			gage[k] = 0;
			if
			:: role[k] != STANDBY -> owe_release(k, rp_e[k])
			:: else -> become_active(k, rp_e[k], t)
			fi;
			t = 0
		fi
	:: st_k[k] == S_RELEASE ->
		if
		:: st_b[k] == 1 ->	/* release_out == 2: the owed one */
			owed[k] = 0
		:: dm_on[k] && dm_done[k] == 2 -> finish_demotion(k)
		:: else
		fi
	:: else -> skip		/* handover */
	fi;
	st_clear(k)
}

inline st_clear(k) {
	st_k[k] = 0; st_e[k] = 0; st_b[k] = 0; st_arg[k] = 0; st_age[k] = 0;
	st_done[k] = 0; st_late[k] = 0; rp[k] = 0; rp_rows[k] = 0; rp_e[k] = 0; rp_b[k] = 0;
	rp_h[k] = 0; rp_tok[k] = 0; rp_ho[k] = 0
}

/* The database: one statement, atomically, as heartbeatd/db.c writes it
 * (sql_renew, sql_takeover, sql_acquire, sql_release, sql_handover). */
#ifdef MUT_NOTOKEN
#define TOK_OK		1
#else
#define TOK_OK		(r_tok == dbtok)
#endif
#ifdef MUT_NOGUARD
#define RENEW_IN_TIME	1
#else
#define RENEW_IN_TIME	(r_cage < L - M)	/* changed_at > now - (L - M) */
#endif
byte	dbk, dbe, dbb, dbarg, dbtok, dbname, dbrows;
inline db_exec() {
	dbrows = 0;
	if
	:: dbk == S_POLL -> dbrows = 1
	:: dbk == S_RENEW ->
		if
		:: r_holder == dbname && TOK_OK && r_epoch == dbe &&
		    RENEW_IN_TIME && r_beat + 1 < BEATS ->
			r_beat++; r_cage = 0; dbrows = 1
		:: else
		fi
	:: dbk == S_TAKEOVER ->
		if
		:: r_epoch == dbe && r_beat == dbb && r_epoch < EMAX ->
			r_holder = dbname; r_tok = dbtok; r_epoch++;
			r_beat = 0; r_ho = 0; r_cage = 0; dbrows = 1
		:: else
		fi
	:: dbk == S_ACQUIRE ->
		if
		:: r_holder == 0 && r_epoch == dbe && r_epoch < EMAX &&
		    (r_ho == 0 || r_ho == dbname || r_cage > L) ->
			r_holder = dbname; r_tok = dbtok; r_epoch++;
			r_beat = 0; r_ho = 0; r_cage = 0; dbrows = 1
		:: else
		fi
	:: dbk == S_RELEASE ->
		if
		:: r_holder == dbname && TOK_OK && r_epoch == dbe ->
			r_holder = 0; r_tok = 0;
			r_beat = (r_beat + 1 < BEATS -> r_beat + 1 : r_beat);
			r_ho = (dbarg == 255 -> 0 : dbarg); r_cage = 0;
			dbrows = 1
		:: else
		fi
	:: dbk == S_HANDOVER ->
		if
		:: r_holder != 0 && r_holder != dbarg -> r_ho = dbarg; dbrows = 1
		:: else
		fi
	fi
}

/* lease_next: the next statement, by the code's order */
inline send_next(k) {
	if
	:: dm_on[k] && dm_done[k] == 1 && !dm_forced[k] ->
		st_k[k] = S_RELEASE; st_e[k] = hep[k];
		st_arg[k] = (dm_target[k] == 0 -> 255 : dm_target[k]);
		dm_done[k] = 2
	:: else ->
	if
	:: owed[k] != 0 ->
		st_k[k] = S_RELEASE; st_e[k] = owed[k]; st_arg[k] = 255;
		st_b[k] = 1	/* release_out = 2: the owed one */
	:: else ->
	if
#ifdef MUT_TAKERACE
	/* the bug of before: the takeover names the row as read now */
	:: want_take[k] && role[k] == STANDBY && vvalid[k] && vh[k] != 0 &&
	    !vmine[k] ->
		want_take[k] = 0;
		st_k[k] = S_TAKEOVER; st_e[k] = ve[k]; st_b[k] = vb[k];
		if :: !gon[k] -> gon[k] = 1; gage[k] = 0 :: else fi
#else
	:: want_take[k] && role[k] == STANDBY && vvalid[k] && tk_valid[k] &&
	    ve[k] == tk_e[k] && vb[k] == tk_b[k] ->
		want_take[k] = 0;
		st_k[k] = S_TAKEOVER; st_e[k] = tk_e[k]; st_b[k] = tk_b[k];
		if :: !gon[k] -> gon[k] = 1; gage[k] = 0 :: else fi
#endif
	:: else ->
		want_take[k] = 0;
	if
	:: want_acq[k] && role[k] == STANDBY && vvalid[k] && vh[k] == 0 ->
		want_acq[k] = 0;
		st_k[k] = S_ACQUIRE; st_e[k] = ve[k];
		if :: !gon[k] -> gon[k] = 1; gage[k] = 0 :: else fi
	:: else ->
		want_acq[k] = 0;
	if
	:: RENEWING(k) && ext[k] && t0age[k] >= L - M -> lease_lost(k)
	:: RENEWING(k) && ext[k] && t0age[k] < L - M && t0age[k] >= H ->
		st_k[k] = S_RENEW; st_e[k] = hep[k]; ext[k] = 0
	:: else ->
	if
	:: sw_ask[k] != 0 ->
		st_k[k] = S_HANDOVER; st_arg[k] = sw_ask[k]; sw_ask[k] = 0
	:: else ->
		if
		:: !polled[k] -> st_k[k] = S_POLL; polled[k] = 1
		:: else
		fi
	fi fi fi fi fi fi;
	st_age[k] = 0
}

/* lease_db_down: the statement missed its deadline Q */
inline db_down(k) {
	if
	:: !st_done[k] ->	/* it may still reach the server */
		or_k[k] = st_k[k]; or_e[k] = st_e[k]; or_b[k] = st_b[k];
		or_arg[k] = st_arg[k]; or_tok[k] = tok[k]
	:: else
	fi;
	if
	:: st_k[k] == S_RENEW && RENEWING(k) -> ext[k] = 1
	:: else
	fi;
	if
	:: dm_on[k] && dm_done[k] != 0 ->	/* the planned release in doubt */
		owed[k] = hep[k]; finish_demotion(k)
	:: else
	fi;
	st_clear(k)
}

/* Never two hosts with the VIP bound, nor two applications, among the
 * hosts that run (a frozen VM neither answers nor writes). */
inline check_overlap() {
	ci = 0;
	do
	:: ci < NI ->
		cj = ci + 1;
		do
		:: cj < NI ->
			assert(!(vip[ci] && vip[cj] && !frz[ci] && !frz[cj]));
			assert(!(app[ci] && app[cj] && !frz[ci] && !frz[cj] &&
			    !woke_late[ci] && !woke_late[cj]));
			cj++
		:: else -> break
		od;
		ci++
	:: else -> break
	od;
	ci = 0;
	cj = 0
}

/* one instance: heartbeatd, the monitor, netd and the kernel */
/* the guard of each step of an instance; WORK(k): one of them holds */
#define G1(k)	(RUN_HB(k) && RENEWING(k) && t0age[k] >= L - M)
#define G2(k)	(RUN_HB(k) && m_demote[k])
#define G3(k)	(RUN_HB(k) && !m_demote[k] && m_report[k] != 0)
#define G4(k)	(RUN_HB(k) && m_fault[k])
#define G5(k)	(RUN_HB(k) && st_k[k] != 0 && rp[k])
#define G6(k)	(RUN_HB(k) && st_k[k] != 0 && !rp[k] && st_age[k] >= Q)
#define G7(k)	(RUN_HB(k) && st_k[k] == 0 && !(RENEWING(k) && t0age[k] >= L - M) && \
		 ((dm_on[k] && dm_done[k] == 1 && !dm_forced[k]) || owed[k] != 0 || \
		  want_take[k] || want_acq[k] || (RENEWING(k) && ext[k] && \
		  t0age[k] >= H) || sw_ask[k] != 0 || !polled[k]))
#define G8(k)	(RUN_HB(k) && tk_on[k] && tk_left[k] == 0)
#define G9(k)	(RUN_HB(k) && aq_on[k] && aq_left[k] == 0)
#define G10(k)	(RUN_MON(k) && role[k] == ACTIVE && mon_role[k] != ACTIVE && !m_demote[k])
#ifdef MUT_LATEBIND
#define G11(k)	(RUN_MON(k) && m_state[k] == M_BINDING && n_res[k] != 0)
#else
/* role_vip_bound: a bind that comes back past t0 + L - M starts nothing
 * (the monitor demotes: role_deadline) */
#define G11(k)	(RUN_MON(k) && m_state[k] == M_BINDING && n_res[k] != 0 && \
		 (n_res[k] != 1 || m_t0age[k] < L - M))
#endif
#define G12(k)	(RUN_MON(k) && m_state[k] == M_ACTIVE && !vip[k] && !m_fault[k] && role[k] == ACTIVE)
#define G13(k)	(RUN_MON(k) && role[k] == DEMOTING && mon_role[k] != DEMOTING)
#define G14(k)	(RUN_MON(k) && role[k] != ACTIVE && role[k] != DEMOTING && mon_role[k] != role[k] && m_state[k] == M_IDLE)
#define G15(k)	(RUN_MON(k) && mon_role[k] == ACTIVE && (m_state[k] == M_BINDING || m_state[k] == M_ACTIVE) && m_t0age[k] >= L - M)
#define G16(k)	(RUN_MON(k) && m_state[k] == M_DROPPING && n_res[k] == 2)
#define G17(k)	(RUN_MON(k) && m_state[k] == M_STANDBY)
#define G18(k)	(RUN_MON(k) && m_state[k] == M_STANDBY && faults < FAULTS)
#define G19(k)	(RUN_MON(k) && (m_state[k] == M_DROPPING || m_state[k] == M_STANDBY) && m_t0age[k] >= L - S)
#define G20(k)	(RUN_ND(k) && n_req[k] == 1)
#define G21(k)	(RUN_ND(k) && n_req[k] == 2)
#define G22(k)	(RUN_ND(k) && n_ext[k] && n_req[k] == 0)
#define G23(k)	(RUN_ND(k) && vip[k] && ndl[k] && n_age[k] >= L - M)
#define G24(k)	(!frz[k] && vip[k] && klife[k] && k_age[k] >= L - 1)
#define WORK(k)	(G1(k) || G2(k) || G3(k) || G4(k) || G5(k) || G6(k) || G7(k) || G8(k) || G9(k) || G10(k) || G11(k) || G12(k) || G13(k) || G14(k) || G15(k) || G16(k) || G17(k) || G18(k) || G19(k) || G20(k) || G21(k) || G22(k) || G23(k) || G24(k))

proctype node(byte k)
{
	byte	ci, cj, ri, rk, pj, t;
	bool	seen, changed;

	do
	/* ---- heartbeatd ---- */
	:: atomic { G1(k) ->
		/* lease_timers: LT_DEADLINE */
		lease_lost(k) }
	:: atomic { G2(k) ->
		/* lease_ctl_demote, DEMOTE_DEADLINE */
		m_demote[k] = 0; lease_lost(k) }
	:: atomic { G3(k) ->
		/* lease_ctl_demote_done */
		if
		:: dm_on[k] ->
			dm_ok[k] = (m_report[k] == 1);
			if
			:: !dm_ok[k] -> finish_demotion(k)
			:: dm_ok[k] && dm_forced[k] -> owed[k] = hep[k];
				finish_demotion(k)
			:: else -> dm_done[k] = 1
			fi
		:: else
		fi;
		m_report[k] = 0 }
	:: atomic { G4(k) ->
		/* lease_ctl_fault: a VIP conflict or gone while active */
		m_fault[k] = 0;
		if
		:: role[k] == ACTIVE -> start_demotion(k, 0, FAULT, 0)
		:: else
		fi }
	:: atomic { G5(k) -> handle_reply(k) }
	:: atomic { G6(k) ->
		db_down(k) }
	:: atomic { G7(k) -> send_next(k) }
	:: atomic { G8(k) ->
		tk_on[k] = 0; want_take[k] = 1 }
	:: atomic { G9(k) ->
		aq_on[k] = 0; want_acq[k] = 1 }

	/* ---- the monitor (monitor/role.c) ---- */
	:: atomic { G10(k) ->
		/* role_change to active: IMSG_VIP_BIND */
		mon_role[k] = ACTIVE; m_t0age[k] = t0age[k]; n_req[k] = 1;
		n_res[k] = 0; m_state[k] = M_BINDING }
	:: atomic { G11(k) ->
		/* role_vip_bound: on-active, or a fault for heartbeatd;
		 * IMSG_VIP_EXTENDED */
		if
		:: n_res[k] == 1 -> app[k] = 1; m_state[k] = M_ACTIVE;
			printf("MSC: %d on-active: the application runs\n", k);
			ext[k] = (t0age[k] == m_t0age[k] && RENEWING(k));
			check_overlap()
		:: else -> m_fault[k] = 1; m_state[k] = M_IDLE
		fi;
		n_res[k] = 0 }
	:: atomic { G12(k) ->
		/* netd: a VIP gone while held is a fault (heartbeatd decides) */
		m_fault[k] = 1 }
	:: atomic { G13(k) ->
		/* role_change to demoting: demotion_begin */
		mon_role[k] = DEMOTING;
		m_state[k] = M_DROPPING; n_req[k] = 2; n_res[k] = 0 }
	:: atomic { G14(k) ->
		mon_role[k] = role[k] }
	:: atomic { G15(k) ->
		/* role_deadline: no word from heartbeatd */
		mon_role[k] = DEMOTING; m_demote[k] = 1;
		m_state[k] = M_DROPPING; n_req[k] = 2; n_res[k] = 0 }
	:: atomic { G16(k) ->
		/* role_vip_dropped: on-standby */
		n_res[k] = 0; m_state[k] = M_STANDBY }
	:: atomic { G17(k) ->
		/* standby_hook_done: exit 0 */
		app[k] = 0; woke_late[k] = 0; printf("MSC: %d on-standby done\n", k); m_state[k] = M_IDLE; m_report[k] = 1 }
	:: atomic { G18(k) ->
		/* on-standby failed: fault; on-fault fences */
		faults++; app[k] = 0; woke_late[k] = 0; printf("MSC: %d on-standby failed\n", k); m_state[k] = M_IDLE; m_report[k] = 2 }
	:: atomic { G19(k) ->
		/* role_kill_deadline, hooks_cap: fault, on-fault fences */
		app[k] = 0; woke_late[k] = 0; printf("MSC: %d killed at t0 + L - S\n", k); m_state[k] = M_IDLE; m_report[k] = 2; n_req[k] = 0 }

	/* ---- netd ---- */
	:: atomic { G20(k) ->
		/* bind_all: the ARP probe, then the address */
		pj = 0;
		do
		:: pj < NI -> if :: PROBE && pj != k && vip[pj] && !frz[pj] -> seen = 1
			:: else fi; pj++
		:: else -> break
		od;
		n_req[k] = 0;
		if
		:: m_t0age[k] >= L - M -> n_res[k] = 3	/* too late */
		:: m_t0age[k] < L - M && seen -> n_res[k] = 3	/* conflict */
		:: else ->
			/* epochs only grow: a node acts on a newer epoch
			 * than any before it (a grant that came back past its
			 * deadline is refused here: bind_all) */
			assert(hep[k] > maxact);
			maxact = hep[k];
			vip[k] = 1; ndl[k] = 1; n_age[k] = m_t0age[k];
			printf("MSC: %d VIP bound\n", k);
			klife[k] = KLIFE; k_age[k] = m_t0age[k];
			n_res[k] = 1;
			check_overlap()
		fi;
		pj = 0;
		seen = 0 }
	:: atomic { G21(k) ->
		/* drop_all */
		vip[k] = 0; ndl[k] = 0; n_age[k] = 0; klife[k] = 0; k_age[k] = 0;
		n_req[k] = 0; n_res[k] = 2; n_ext[k] = 0; n_ext_age[k] = 0 }
	:: atomic { G22(k) ->
		/* vip_refresh: extend, or the VIP is gone: a fault */
		if
		:: vip[k] -> n_age[k] = n_ext_age[k];
			klife[k] = KLIFE; k_age[k] = n_ext_age[k];
			/* the monitor passes IMSG_VIP_EXTENDED on:
			 * lease_ctl_vip_extended */
			ext[k] = (t0age[k] == n_ext_age[k] && RENEWING(k))
		:: else
		fi;
		n_ext[k] = 0;
		n_ext_age[k] = 0 }
	:: atomic { G23(k) ->
		/* deadline_drop */
		vip[k] = 0; ndl[k] = 0; n_age[k] = 0; klife[k] = 0; k_age[k] = 0 }

	/* ---- the kernel: the address's lifetime ---- */
	:: atomic { G24(k) ->
		vip[k] = 0; klife[k] = 0; k_age[k] = 0 }
	od
}

/* the database's backend for one instance's connection: it runs the
 * statements, loses replies, and runs orphans late (one process each, so
 * that weak fairness is owed to each connection) */
proctype db(byte k)
{
	do
	:: atomic {
		if
		:: st_k[k] != 0 && !st_done[k] && !st_late[k] ->
			dbk = st_k[k]; dbe = st_e[k]; dbb = st_b[k];
			dbarg = st_arg[k]; dbtok = tok[k]; dbname = nm[k];
			db_exec();
			printf("MSC: db: %d's statement %d (%d,%d): %d rows; row %d/%d e%d b%d\n",
			    k, dbk, dbe, dbb, dbrows, r_holder, r_tok, r_epoch, r_beat);
			st_done[k] = 1;
			if
			:: rp[k] = 1;
				rp_rows[k] = dbrows; rp_e[k] = r_epoch;
				rp_b[k] = r_beat; rp_h[k] = r_holder;
				rp_tok[k] = r_tok; rp_ho[k] = r_ho
			:: faults < FAULTS -> faults++	/* the reply is lost */
				printf("MSC: db: reply to %d lost\n", k)
			fi
		:: st_k[k] != 0 && !st_done[k] && !st_late[k] &&
		    faults < FAULTS ->
			/* late: it runs after the client gave up, or never */
			faults++; st_late[k] = 1;
			printf("MSC: db: %d's statement late\n", k)
		:: or_k[k] != 0 ->
			dbk = or_k[k]; dbe = or_e[k]; dbb = or_b[k];
			dbarg = or_arg[k]; dbtok = or_tok[k]; dbname = nm[k];
			db_exec();
			printf("MSC: db: %d's orphan %d (%d,%d): %d rows; row %d/%d e%d b%d\n",
			    k, dbk, dbe, dbb, dbrows, r_holder, r_tok, r_epoch, r_beat);
			or_k[k] = 0; or_e[k] = 0; or_b[k] = 0; or_arg[k] = 0;
			or_tok[k] = 0
		:: or_k[k] != 0 ->	/* it never arrives */
			or_k[k] = 0; or_e[k] = 0; or_b[k] = 0; or_arg[k] = 0;
			or_tok[k] = 0
		:: else
		fi;
		dbk = 0; dbe = 0; dbb = 0; dbarg = 0; dbtok = 0; dbname = 0;
		dbrows = 0
	}
	od
}

/*
 * Time passes only when nothing that runs has anything left to do: a
 * process that runs acts within the tick (a slower one is a paused one,
 * and pauses are modelled), and the database runs each statement within
 * it, or the statement is late or its reply lost (a fault).
 */
#define BUSY(k)	(WORK(k) || (st_k[k] != 0 && !st_done[k] && !st_late[k]))
#if NI == 2
#define QUIET	(!BUSY(0) && !BUSY(1))
#elif NI == 3
#define QUIET	(!BUSY(0) && !BUSY(1) && !BUSY(2))
#elif NI == 4
#define QUIET	(!BUSY(0) && !BUSY(1) && !BUSY(2) && !BUSY(3))
#else
#error "NI is 2, 3 or 4"
#endif

/* a tick: every age grows, every timer runs down */
inline tick() {
	AGE(r_cage, L + 1);
	di = 0;
	do
	:: di < NI ->
		/* each age only as far as a rule looks */
		AGE(t0age[di], L - M); AGE(gage[di], L - M);
		AGE(vage[di], L + N - 1); AGE(free_age[di], L + N - 1);
		AGE(st_age[di], Q); AGE(m_t0age[di], L - S);
		AGE(k_age[di], L - 1); AGE(n_age[di], L - M);
		AGE(n_ext_age[di], L - M);
		LEFT(tk_left[di]); LEFT(aq_left[di]);
		polled[di] = 0;
		di++
	:: else -> break
	od;
	di = 0
}

/* one guard, evaluated at once: a clock blocked halfway would stop time */
proctype clock()
{
	byte	di;

	do
	:: atomic { QUIET -> tick(); printf("MSC: tick\n") }
	od
}

/* the faults and the operator */
proctype env()
{
	byte	k, ci, cj, t;

	do
	:: atomic {
		k = 0;
		do
		:: k < NI - 1 -> k++
		:: k < NI -> break
		od;
		if
		:: pauses < PAUSES && role[k] != DOWN && !p_hb[k] && !p_nd[k] &&
		    !frz[k] -> pauses++;
			if
			:: PAUSEKIND & 1 -> p_hb[k] = 1;
				printf("MSC: %d heartbeatd stopped\n", k)
			:: PAUSEKIND & 2 -> p_nd[k] = 1;
				printf("MSC: %d netd stopped\n", k)
			:: PAUSEKIND & 4 -> frz[k] = 1;
				printf("MSC: %d frozen\n", k)
			fi
		:: p_hb[k] -> p_hb[k] = 0
		:: p_nd[k] -> p_nd[k] = 0
		:: frz[k] ->
			/* the VM runs again: the kernel's lifetimes first;
			 * an application that wakes past the lease runs on
			 * until on-standby stops it (no lease stops a frozen
			 * program: README) */
			frz[k] = 0;
			woke_late[k] = app[k] && m_t0age[k] >= L - M;
			printf("MSC: %d thawed, past its lease %d\n", k, woke_late[k]);
			if
			:: vip[k] && klife[k] && k_age[k] >= L - 1 ->
				vip[k] = 0; klife[k] = 0; k_age[k] = 0
			:: else
			fi;
			check_overlap()
		:: restarts < RESTARTS && role[k] != DOWN && !frz[k] ->
			/* kill -9: the application goes with it (its cgroup);
			 * the address stays in the kernel, with its lifetime;
			 * a statement on the wire may still run */
			restarts++;
			role[k] = DOWN; app[k] = 0; woke_late[k] = 0; p_hb[k] = 0; p_nd[k] = 0;
			printf("MSC: %d killed\n", k);
			if
			:: st_k[k] != 0 && !st_done[k] ->
				or_k[k] = st_k[k]; or_e[k] = st_e[k];
				or_b[k] = st_b[k]; or_arg[k] = st_arg[k];
				or_tok[k] = tok[k]
			:: else
			fi;
			st_clear(k);
			m_state[k] = M_IDLE; m_t0age[k] = 0; m_report[k] = 0;
			m_demote[k] = 0; m_fault[k] = 0; mon_role[k] = DOWN;
			n_req[k] = 0; n_res[k] = 0; n_ext[k] = 0;
			n_ext_age[k] = 0; ndl[k] = 0; n_age[k] = 0
		:: role[k] == DOWN ->
			/* the start: a new token; the monitor drops the
			 * addresses and runs on-standby */
			ntok++; tok[k] = ntok;
			printf("MSC: %d starts, token %d\n", k, ntok);
			vip[k] = 0; klife[k] = 0; k_age[k] = 0;
			role[k] = (maint[k] -> MAINT : STANDBY);
			mon_role[k] = role[k];
			hep[k] = 0; t0age[k] = 0; ext[k] = 0; owed[k] = 0;
			gon[k] = 0; gage[k] = 0; unclean[k] = 0;
			vvalid[k] = 0; vmine[k] = 0; ve[k] = 0; vb[k] = 0;
			vh[k] = 0; vho[k] = 0; vage[k] = 0; polled[k] = 0;
			tk_valid[k] = 0; tk_on[k] = 0; tk_left[k] = 0;
			tk_e[k] = 0; tk_b[k] = 0;
			aq_on[k] = 0; aq_left[k] = 0; want_take[k] = 0;
			want_acq[k] = 0; free_on[k] = 0; free_age[k] = 0;
			dm_on[k] = 0; dm_done[k] = 0; dm_forced[k] = 0;
			dm_ok[k] = 0; dm_then[k] = 0; dm_target[k] = 0;
			sw_ask[k] = 0
		:: ops < OPS && role[k] == ACTIVE && !dm_on[k] -> ops++;
			if
			:: start_demotion(k, 0, MAINT, 0)	/* failoverctl standby */
			:: start_demotion(k, 0, FAULT, 0)	/* a failed check */
			:: /* failoverctl switchover to the next node */
				t = (nm[k] % N) + 1;
				start_demotion(k, 0, STANDBY, t);
				t = 0
			fi
		:: ops < OPS && role[k] != DOWN && role[k] != ACTIVE ->
			/* failoverctl switchover, asked on a standby for
			 * itself */
			ops++; sw_ask[k] = nm[k]
		:: ops < OPS && role[k] == STANDBY -> ops++;
			maint[k] = 1; role[k] = MAINT
		:: (role[k] == MAINT || (role[k] == FAULT && !unclean[k])) ->
			/* failoverctl resume */
			maint[k] = 0; role[k] = STANDBY
		:: else
		fi;
		k = 0
	}
	od
}

init {
	atomic {
		byte i;
		i = 0;
		do
		:: i < N -> nm[i] = i + 1; tok[i] = i + 1; role[i] = STANDBY;
			mon_role[i] = STANDBY; i++
		:: else -> break
		od;
#if CLONE
		nm[N] = 1; tok[N] = N + 1; role[N] = STANDBY;
		mon_role[N] = STANDBY;
#endif
		i = 0;
		do
		:: i < NI -> run node(i); run db(i); i++
		:: else -> break
		od;
		run clock();
		run env();
		i = 0
	}
}

/* Liveness: a lease held by a process that does not act on it (a grant
 * whose reply was lost, a forced demotion) is released: the row becomes
 * free, rather than waiting L for a takeover. */
#define STALE(k)	(r_holder == nm[k] && r_tok == tok[k] && \
			 (role[k] == STANDBY || role[k] == MAINT || \
			  (role[k] == FAULT && !unclean[k])))
/* ...or the process acts on it after all (its grant's reply was only
 * on its way); a takeover by another node is no release */
ltl released0 { [] (STALE(0) -> <> (r_holder == 0 ||
    (r_holder == nm[0] && r_tok == tok[0] && !STALE(0)))) }
