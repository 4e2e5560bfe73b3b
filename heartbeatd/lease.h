/*
 * heartbeatd: the role state machine (lease.c) and the statements it
 * asks db.c to send.  lease.c is pure: it reads no clock and calls no
 * libpq; the times of events come in as arguments, statements to send
 * come out of lease_next(), messages to the monitor through l->out.
 */

#ifndef LEASE_H
#define LEASE_H

#include <sys/queue.h>

#include <stdint.h>

#include "failoverd.h"

enum lease_timer {
	LT_TICK,	/* poll the row, touch our node row: every H */
	LT_RECONNECT,	/* open the connection again */
	LT_DEADLINE,	/* active: t0 + L - M */
	LT_TAKEOVER,	/* standby: the armed (epoch, beat) is dead */
	LT_ACQUIRE,	/* standby: the free lease may be acquired */
	LT_RENEW,	/* active: the next renewal is due */
	LT_STOP,	/* the stop event had its chance */
	LT_SWITCH,	/* a switchover did not happen within 2 L */
	LT_MAX
};

enum stmt {
	ST_NONE,
	ST_REGISTER,
	ST_POLL,
	ST_RENEW,
	ST_ACQUIRE,
	ST_TAKEOVER,
	ST_RELEASE,
	ST_HANDOVER,
	ST_NODEROLE,
	ST_EVENT
};

/* The lease row as a poll reads it. */
struct lease_row {
	char		 holder[NAME_LEN];	/* "": free */
	char		 token[40];
	int64_t		 epoch;
	int64_t		 beat;
	char		 handover[NAME_LEN];
	uint32_t	 lease_ms;
};

/* A statement the state machine wants sent; db.c builds its SQL. */
struct lease_stmt {
	enum stmt	 kind;
	int64_t		 epoch;		/* renew, release: held; acquire:
					   seen free; takeover: armed */
	int64_t		 beat;		/* takeover: armed */
	char		 node[NAME_LEN];	/* takeover: from; release,
						   handover: to ("": none) */
	const char	*role;		/* register, poll, node role */
	int		 keep_maintenance;	/* register: as at start */
	char		 event[16];	/* event: its name */
	int64_t		 event_epoch;	/* event: -1 for none */
	char		 detail[FAULT_LEN];
};

/* What came back for a statement; db.c parses it. */
struct lease_reply {
	enum stmt	 kind;
	int		 ok;		/* no error */
	int		 rows;
	struct lease_row row;		/* poll */
	struct nodes_msg nodes;		/* poll */
	int		 maintenance;	/* register: kept from before */
	int64_t		 epoch;		/* acquire, takeover: granted */
	int64_t		 beat;		/* renew */
	char		 handover[NAME_LEN];	/* renew */
	char		 error[FAULT_LEN];
};

struct lease_event {
	TAILQ_ENTRY(lease_event) entry;
	int64_t			 epoch;
	char			 name[16];
	char			 detail[FAULT_LEN];
};

typedef void	(*lease_out_fn)(void *, uint32_t, const void *, size_t);

struct lease {
	lease_out_fn		 out;	/* a message to the monitor */
	void			*arg;
	struct conf_heartbeat	 conf;
	struct conf_peer	 nodes[MAX_NODES];
	int			 nnodes;
	char			 token[37];
	uint64_t		 due[LT_MAX];	/* 0: off */

	enum role		 role;
	int			 started;	/* the monitor's start done */
	int			 maintenance;
	uint32_t		 fault_src;	/* FAULT_*: what clears it */
	uint32_t		 faulty;	/* 1 << FAULT_*: failing now */
	char			 fault_why[FAULT_MAX][FAULT_LEN];
	int			 maint_set;	/* standby or resume was asked */
	int			 unclean;	/* a demotion failed */
	char			 reason[FAULT_LEN];
	int			 db_ready;
	uint32_t		 backoff;

	/* the lease as this process holds it */
	int64_t			 epoch;		/* -1: none */
	uint64_t		 t0;
	int			 extended;	/* netd confirmed t0 */
	uint64_t		 next_renew_at;
	uint64_t		 grant_sent;	/* earliest unanswered grant */
	uint64_t		 renew_sent;	/* a renewal in flight */
	int64_t			 owed;		/* an epoch to release; -1 */
	int			 err_wait;	/* a statement failed: the
						   next tick tries again */
	int			 release_out;	/* 1 planned, 2 owed */

	/* the row as last read */
	int			 row_valid;
	struct lease_row	 row;
	uint64_t		 row_seen_at;	/* reply first showing it */
	uint64_t		 free_seen_at;
	uint64_t		 may_take_at;
	/* the (epoch, beat) the takeover timer is armed for */
	int64_t			 take_epoch;
	int64_t			 take_beat;
	char			 take_from[NAME_LEN];

	struct {
		int		 on;
		int		 forced;
		int		 ok;
		int		 done;	/* on-standby and the drop ended */
		uint32_t	 why;
		uint32_t	 id;	/* control request to answer */
		enum role	 then;
		char		 target[NAME_LEN];
		char		 detail[FAULT_LEN];
	}			 dm;	/* a demotion under way */
	struct {
		uint32_t	 id;
		int		 want_handover;
		int64_t		 from_epoch;
		char		 target[NAME_LEN];
	}			 sw;	/* a switchover to be seen done */

	struct nodes_msg	 nodesm;
	uint64_t		 higher_since[MAX_NODES];
	int			 registered;
	int			 registered_once;
	int			 want_poll, want_takeover, want_acquire;
	int			 want_noderole;
	int			 stopping;	/* 1: stop event, 2: told */
	TAILQ_HEAD(, lease_event) events;
};

void		 lease_init(struct lease *, const struct conf_heartbeat *,
		    const struct conf_peer *, int, const char *, lease_out_fn,
		    void *);
void		 lease_free(struct lease *);
uint64_t	 lease_next_due(struct lease *);
int		 lease_timers(struct lease *, uint64_t);
int		 lease_next(struct lease *, uint64_t, struct lease_stmt *);
void		 lease_reply(struct lease *, uint64_t, uint64_t,
		    const struct lease_reply *);
void		 lease_db_ready(struct lease *, uint64_t);
void		 lease_db_down(struct lease *, uint64_t, const char *);
void		 lease_notified(struct lease *);
void		 lease_ctl_start(struct lease *, uint64_t, int, const char *);
void		 lease_ctl_vip_extended(struct lease *, int64_t, uint64_t);
void		 lease_ctl_demote(struct lease *, uint64_t,
		    const struct demote_msg *);
void		 lease_ctl_demote_done(struct lease *, uint64_t, int, int64_t);
void		 lease_ctl_fault(struct lease *, uint64_t,
		    const struct fault_msg *);
void		 lease_ctl_switchover(struct lease *, uint64_t,
		    const struct switchover_msg *);
void		 lease_ctl_maintenance(struct lease *, uint64_t,
		    const struct maintenance_msg *);
void		 lease_ctl_stop(struct lease *, uint64_t);

/* rank.c */
struct conf_peer *rank_node(struct lease *, const char *);
int		 rank_before(const struct conf_peer *,
		    const struct conf_peer *);
int		 rank_of(struct lease *, const char *);
int		 rank_live_standby(struct lease *, const char *);
const char	*rank_best_standby(struct lease *);

/* between lease.c and lease_ctl.c */
void		 lease_timer_at(struct lease *, enum lease_timer, uint64_t);
void		 lease_req_result(struct lease *, uint32_t, int, const char *,
		    ...) __attribute__((__format__ (printf, 4, 5)));
void		 lease_event(struct lease *, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
int		 lease_renewing(struct lease *);
void		 lease_set_role(struct lease *, enum role, const char *);
int		 lease_fault_clears(uint32_t);
enum role	 lease_calm_role(struct lease *, const char **);
void		 lease_start_demotion(struct lease *, int, uint32_t,
		    const char *, enum role, uint32_t, const char *);
void		 lease_lost(struct lease *, uint64_t, const char *);
void		 lease_finish_demotion(struct lease *);

#endif /* LEASE_H */
