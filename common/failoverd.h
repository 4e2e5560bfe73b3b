/*
 * failoverd: the vocabulary shared by all processes.  Everything that
 * crosses a socket is declared here and nowhere else.
 */

#ifndef FAILOVERD_H
#define FAILOVERD_H

#include <sys/types.h>
#include <netinet/in.h>
#include <net/if.h>
#include <stdint.h>

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

#define FAILOVERD_USER		"_failoverd"
#define CONF_FILE		"/etc/failoverd.conf"
#define CONTROL_SOCKET		"/run/failoverd.sock"
#define CONTROL_GROUP		"root"
#define EMPTY_DIR		"/run/failoverd/empty"
#define RUN_DIR			"/run/failoverd"
#define CHILD_FD		3

/* the defaults failoverd.conf(5) documents, in milliseconds */
#define DEFAULT_INTERVAL	1000
#define DEFAULT_DEAD		60000
#define DEFAULT_MARGIN		10000
#define DEFAULT_SLACK		1000
#define DEFAULT_TIMEOUT		2000
#define MIN_SLACK		50
#define DEFAULT_PREEMPT_DELAY	30000
#define DEFAULT_PRIORITY	100
#define DEFAULT_SYNC_PORT	7209
#define DEFAULT_SYNC_INTERVAL	30000
#define DEFAULT_SYNC_DELAY	1000
#define DEFAULT_MAX_DELETE	10
#define DEFAULT_ATTIC_KEEP	3
#define DEFAULT_GARP_COUNT	3
#define DEFAULT_GARP_INTERVAL	1000
#define DEFAULT_PROBE_WAIT	100
#define DEFAULT_DNS_PORT	53
#define DEFAULT_DNS_TTL		30
#define DEFAULT_SMTP_PORT	25
#define DEFAULT_ACTIVE_TIMEOUT	60000
#define DEFAULT_STANDBY_TIMEOUT	8000
#define DEFAULT_FAULT_TIMEOUT	5000
#define DEFAULT_CHECK_INTERVAL	5000
#define DEFAULT_CHECK_FALL	3
#define DEFAULT_CHECK_RISE	2

#define NAME_LEN		64	/* node and cluster names, with NUL */
#define CONNINFO_LEN		1024
#define PATH_LEN		1024
#define KEY_LEN			32	/* X25519 keys */
#define MAX_PUBKEYS		2
#define FAULT_LEN		128
#define CTL_MSG_LEN		512

enum proc_id {
	PROC_MONITOR,
	PROC_HEARTBEAT,
	PROC_SYNC,
	PROC_NET,
	PROC_DNS,
	PROC_MAX
};

enum role {
	ROLE_STARTING,
	ROLE_STANDBY,
	ROLE_ACTIVE,
	ROLE_DEMOTING,
	ROLE_MAINTENANCE,
	ROLE_FAULT,
	ROLE_MAX
};

enum imsg_type {
	IMSG_NONE,
	/* monitor -> child: its part of the configuration */
	IMSG_CONF_HEARTBEAT,
	IMSG_CONF_NODE,
	IMSG_CONF_NET,
	IMSG_CONF_VIP,
	IMSG_CONF_SYNC,
	IMSG_CONF_PEER,
	IMSG_CONF_DIR,
	IMSG_CONF_EXCLUDE,
	IMSG_CONF_END,
	IMSG_LOG_VERBOSE,
	/* child -> monitor (ROLE and LEASE_SEEN also monitor -> syncd) */
	IMSG_READY,
	IMSG_ROLE,
	IMSG_LEASE_RENEWED,
	IMSG_LEASE_SEEN,
	IMSG_DB_STATE,
	IMSG_NODES,
	IMSG_HISTORY_LINE,
	IMSG_REQ_RESULT,
	IMSG_STOPPED,
	/* monitor -> heartbeatd (VIP_EXTENDED, FAULT: netd -> monitor too) */
	IMSG_START,
	IMSG_VIP_EXTENDED,
	IMSG_DEMOTE,
	IMSG_DEMOTE_DONE,
	IMSG_SWITCHOVER,
	IMSG_MAINTENANCE,
	IMSG_FAULT,
	IMSG_HISTORY,
	IMSG_STOP,
	/* monitor <-> netd */
	IMSG_VIP_BIND,
	IMSG_VIP_BOUND,
	IMSG_VIP_EXTEND,
	IMSG_VIP_DROP,
	IMSG_VIP_DROPPED,
	IMSG_VIP_STATE,
	/* dnsd */
	IMSG_CONF_DNS,
	IMSG_DNS_UPDATE,
	IMSG_DNS_STOP,
	IMSG_DNS_RESULT,
	/* syncd */
	IMSG_SYNC_NOW,
	IMSG_SYNC_FINAL,
	IMSG_SYNC_STATUS,
	IMSG_SYNC_ALERT,
	/* control socket */
	IMSG_CTL_STATUS,
	IMSG_CTL_STATUS_NODE,
	IMSG_CTL_STATUS_VIP,
	IMSG_CTL_STATUS_PEER,
	IMSG_CTL_SWITCHOVER,
	IMSG_CTL_STANDBY,
	IMSG_CTL_RESUME,
	IMSG_CTL_SYNC,
	IMSG_CTL_HISTORY,
	IMSG_CTL_RELOAD,
	IMSG_CTL_LOG,
	IMSG_CTL_RESULT,
	IMSG_CTL_END,
	/*
	 * New types go here, at the end: the numbers of the control
	 * socket's types are its protocol with a failoverctl of another
	 * version (an upgrade installs the binary before the restart).
	 */
	IMSG_SYNC_FINAL_DONE,
	IMSG_CTL_STATUS_ATTIC,
	IMSG_HISTORY_CANCEL,
	IMSG_HISTORY_PAUSE,
	IMSG_HISTORY_MORE,
	IMSG_PING,
	IMSG_PONG,
	IMSG_CTL_STATUS_MORE,
	IMSG_BUSY,
	IMSG_MAX
};

/* An IP address as it crosses a socket. */
struct fo_addr {
	uint8_t		 af;		/* AF_INET or AF_INET6 */
	uint8_t		 pad[3];
	union {
		struct in_addr	 v4;
		struct in6_addr	 v6;
	}		 a;
};

struct fo_timing {
	uint32_t	 interval;	/* H */
	uint32_t	 dead;		/* L */
	uint32_t	 margin;	/* M */
	uint32_t	 slack;		/* S */
	uint32_t	 timeout;	/* Q */
};

/* IMSG_PING, monitor -> every child, answered by IMSG_PONG: the watchdog */
struct ping_msg {
	uint32_t	 seq;
};

/*
 * IMSG_BUSY, a child -> monitor: it enters (on 1) or leaves (on 0) work
 * that keeps its loop from answering pings (syncd's scans, which hash
 * every new file); the watchdog waits for it, up to WD_BUSY_MAX.
 */
struct busy_msg {
	uint32_t	 on;
};

/* IMSG_LOG_VERBOSE, monitor -> every child: the log level */
struct log_verbose_msg {
	int32_t		 verbose;	/* 0: brief, 1: verbose, 2: debug */
};

/* IMSG_CONF_HEARTBEAT */
struct conf_heartbeat {
	char		 cluster[NAME_LEN];
	char		 node[NAME_LEN];
	char		 conninfo[CONNINFO_LEN];
	struct fo_timing timing;
	uint32_t	 preempt;
	uint32_t	 preempt_delay;
	uint32_t	 priority;
};

/* IMSG_CONF_NODE (heartbeatd: the ranking), IMSG_CONF_PEER (syncd: the
 * peers and their keys) */
struct conf_peer {
	char		 name[NAME_LEN];
	struct fo_addr	 addr;
	uint32_t	 priority;
	uint16_t	 port;
	uint16_t	 npubkeys;
	uint8_t		 pubkey[MAX_PUBKEYS][KEY_LEN];
};

enum garp_type {
	GARP_REQUEST,
	GARP_REPLY
};

/* IMSG_CONF_NET */
struct conf_net {
	struct fo_timing timing;
	uint32_t	 garp_type;
	uint32_t	 garp_count;
	uint32_t	 garp_interval;
	uint32_t	 garp_refresh;	/* 0: off */
	uint32_t	 probe;		/* 0: no probe */
	uint32_t	 probe_wait;
	uint32_t	 nvips;
};

/* IMSG_CONF_VIP, in index order */
struct conf_vip_msg {
	uint32_t	 index;
	struct fo_addr	 addr;
	uint8_t		 prefixlen;
	uint8_t		 pad[3];
	char		 ifname[IFNAMSIZ];
	char		 label[IFNAMSIZ];
};

/* IMSG_CONF_SYNC */
struct conf_sync_msg {
	char		 node[NAME_LEN];
	char		 cluster[NAME_LEN];
	struct fo_addr	 listen;
	uint16_t	 port;
	uint16_t	 pad;
	uint32_t	 interval;
	uint32_t	 delay;
	uint32_t	 max_delete;	/* percent */
	uint32_t	 alert_after;	/* ms */
	uint32_t	 attic_keep;	/* epochs */
	uint32_t	 ndirs;
	char		 user[NAME_LEN];
	uint8_t		 secret[KEY_LEN];
};

#define DEFAULT_SYNC_ALERT	60000	/* ms a peer may fail before an alert */
#define MAX_SYNC_PEERS		32

/* IMSG_CONF_DIR, with the directory's fd; IMSG_CONF_EXCLUDE */
struct conf_dir_msg {
	uint32_t	 index;
	char		 path[PATH_LEN];
};

/* IMSG_ROLE, on every change of role */
struct role_msg {
	uint32_t	 role;
	uint32_t	 forced;	/* demoting: deadline or lease lost */
	int64_t		 epoch;		/* gained, held or being left; -1 */
	uint64_t	 t0;		/* CLOCK_BOOTTIME ms of the last ack */
	uint64_t	 demote_at;	/* t0 + L - M, 0: none */
	uint64_t	 kill_at;	/* t0 + L - S, 0: none */
	char		 holder[NAME_LEN];
	char		 reason[FAULT_LEN];
};

/* IMSG_LEASE_RENEWED, heartbeatd -> monitor: the lease runs from t0 */
struct renewed_msg {
	int64_t		 epoch;
	uint64_t	 t0;		/* CLOCK_BOOTTIME ms, renewal sent */
};

/* IMSG_LEASE_SEEN, heartbeatd -> monitor -> syncd: the row last read */
struct seen_msg {
	int64_t		 epoch;
	char		 holder[NAME_LEN];	/* "": free */
	uint64_t	 may_take_at;	/* standby: when it may take over */
};

/* IMSG_DB_STATE, heartbeatd -> monitor: the database reached or lost */
struct db_msg {
	uint32_t	 up;
	uint32_t	 pad;
	char		 error[FAULT_LEN];
};

#define MAX_NODES	32
/* IMSG_NODES, heartbeatd -> monitor: the cluster's failover_node rows */
struct nodes_msg {
	uint32_t	 n;
	uint32_t	 pad;
	struct {
		char	 node[NAME_LEN];
		uint32_t role;
		uint32_t pad;
		int64_t	 seen_ms_ago;
	}		 e[MAX_NODES];
};

enum demote_reason {
	DEMOTE_SWITCHOVER,	/* planned: hand over to target */
	DEMOTE_MAINTENANCE,	/* planned: hand over, then maintenance */
	DEMOTE_SHUTDOWN,	/* planned: hand over, then stop */
	DEMOTE_FAULT,		/* a hook, check or netd fault */
	DEMOTE_DEADLINE		/* forced: the monitor's t0 + L - M passed */
};

/* IMSG_DEMOTE, monitor -> heartbeatd: leave the active role */
struct demote_msg {
	uint32_t	 reason;	/* enum demote_reason */
	uint32_t	 pad;
	char		 target[NAME_LEN];	/* "": the best standby */
	char		 detail[FAULT_LEN];
};

/* IMSG_SWITCHOVER, monitor -> heartbeatd: failoverctl switchover */
struct switchover_msg {
	uint32_t	 id;		/* the control request */
	uint32_t	 pad;
	char		 target[NAME_LEN];	/* "": the best standby */
};

/* IMSG_MAINTENANCE, monitor -> heartbeatd: failoverctl standby, resume */
struct maintenance_msg {
	uint32_t	 id;		/* the control request */
	uint32_t	 enter;		/* 1: standby, 0: resume */
};

/* IMSG_START, monitor -> heartbeatd: on-standby at start has run */
struct start_msg {
	uint32_t	 ok;
	uint32_t	 pad;
	char		 reason[FAULT_LEN];	/* when it failed */
};

/* IMSG_DEMOTE_DONE, monitor -> heartbeatd: the demotion's hooks ran */
struct demote_done_msg {
	uint32_t	 ok;		/* 0: on-standby failed */
	uint32_t	 pad;
	int64_t		 epoch;		/* the epoch left */
};

/* IMSG_VIP_BIND, monitor -> netd: bind every VIP for this lease */
struct vip_bind_msg {
	int64_t		 epoch;
	uint64_t	 t0;
};

/* IMSG_VIP_EXTEND, monitor -> netd: the lease now runs from t0 */
struct vip_extend_msg {
	int64_t		 epoch;
	uint64_t	 t0;
};

/* IMSG_VIP_EXTENDED, netd -> monitor -> heartbeatd: every VIP is bound
 * with a lifetime from t0 (the monitor sends it itself after a bind) */
struct vip_extended_msg {
	int64_t		 epoch;
	uint64_t	 t0;
};

/* IMSG_VIP_DROP, monitor -> netd: drop every VIP */
struct vip_drop_msg {
	int64_t		 epoch;		/* the epoch left */
};

/* IMSG_VIP_BOUND, netd -> monitor: the answer to IMSG_VIP_BIND */
struct vip_bound_msg {
	uint32_t	 ok;
	uint32_t	 source;	/* refused: FAULT_VIP, FAULT_CONFLICT */
	int64_t		 epoch;
	char		 reason[FAULT_LEN];	/* refused: why */
};

/* IMSG_VIP_DROPPED, netd -> monitor: after IMSG_VIP_DROP, or by netd at
 * its own deadline t0 + L - M */
struct vip_dropped_msg {
	uint32_t	 ok;		/* 0: a VIP could not be removed */
	uint32_t	 pad;
	int64_t		 epoch;
	char		 reason[FAULT_LEN];	/* "": asked by the monitor */
};

/* IMSG_VIP_STATE, netd -> monitor: one VIP was bound or lost */
struct vip_state {
	uint32_t	 index;		/* in the order of IMSG_CONF_VIP */
	uint32_t	 bound;
};

/* Who observed a fault (IMSG_FAULT); heartbeatd decides what it means. */
enum fault_source {
	FAULT_DB,
	FAULT_CHECK,	/* clears after `rise' good checks */
	FAULT_HOOK,
	FAULT_LINK,	/* clears when the link is back */
	FAULT_VIP,
	FAULT_CONFLICT,
	FAULT_SYNC,
	FAULT_MAX
};

/* IMSG_FAULT, netd -> monitor -> heartbeatd, monitor -> heartbeatd */
struct fault_msg {
	uint32_t	 source;	/* enum fault_source */
	uint32_t	 ok;		/* 1: it cleared */
	int64_t		 epoch;		/* the epoch it was seen at, or -1 */
	char		 reason[FAULT_LEN];
};

/* IMSG_HISTORY, monitor -> heartbeatd: failoverctl history */
struct history_msg {
	uint32_t	 id;		/* the control request */
	uint32_t	 lines;		/* the newest so many, 1 to 100000 */
};

/*
 * History flows at its reader's pace, a page at a time:
 * IMSG_HISTORY_PAUSE, heartbeatd -> monitor: a page of history id went,
 * the next waits for IMSG_HISTORY_MORE, monitor -> heartbeatd, sent once
 * the reader has taken most of it; IMSG_HISTORY_CANCEL, monitor ->
 * heartbeatd: the reader went, the rest is not read.
 */
struct history_id_msg {
	uint32_t	 id;
	uint32_t	 pad;
};

/* IMSG_HISTORY_LINE, heartbeatd -> monitor -> failoverctl: one event */
struct history_line_msg {
	uint32_t	 id;
	uint32_t	 pad;
	char		 line[CTL_MSG_LEN];
};

/* IMSG_REQ_RESULT, heartbeatd or syncd -> monitor: the end of a control
 * request they served (failoverctl gets it as IMSG_CTL_RESULT) */
struct req_result_msg {
	uint32_t	 id;
	int32_t		 code;		/* 0 ok, else the exit status */
	char		 msg[CTL_MSG_LEN];
};

#define DNS_NAME_LEN	256
#define DNS_KEY_LEN	128
/* IMSG_CONF_DNS, monitor -> dnsd: its whole configuration, the TSIG
 * secret decoded */
struct conf_dns_msg {
	char		 name[DNS_NAME_LEN];
	char		 zone[DNS_NAME_LEN];
	char		 keyname[DNS_NAME_LEN];
	struct fo_addr	 server;
	struct fo_addr	 addr;		/* this node's */
	uint16_t	 port;
	uint16_t	 pad;
	uint32_t	 ttl;
	uint32_t	 secretlen;
	uint8_t		 secret[DNS_KEY_LEN];
};

/* IMSG_SYNC_STATUS, syncd -> monitor: its state, on every change */
struct sync_peer_status {
	char		 node[NAME_LEN];
	char		 state[16];
	int64_t		 last_ok;	/* unix seconds, -1: never */
	char		 error[FAULT_LEN];
};

#define MAX_ATTICS	8	/* the newest shown */
struct sync_attic_status {
	int64_t		 epoch;
	uint64_t	 files;		/* in every directory's attic */
};

struct sync_status_msg {
	int64_t		 last_ok;	/* unix seconds, -1: never */
	uint64_t	 files;		/* shipped or received since start */
	uint64_t	 bytes;
	uint32_t	 npeers;
	uint32_t	 nattics;
	uint64_t	 skipped;	/* paths not synced at the last scan:
					   FIFOs, sockets, devices */
	char		 last_error[FAULT_LEN];
	struct sync_peer_status peer[MAX_SYNC_PEERS];
	struct sync_attic_status attic[MAX_ATTICS];	/* newest first */
};

/* IMSG_SYNC_NOW, monitor -> syncd: failoverctl sync */
struct sync_now_msg {
	uint32_t	 id;		/* the control request */
	uint32_t	 timeout;	/* ms, 0: syncd's default */
};

/*
 * IMSG_SYNC_FINAL, monitor -> syncd: the last round of a planned
 * hand-over, after on-standby and before the release, within timeout
 * ms; syncd answers IMSG_SYNC_FINAL_DONE.
 */
struct sync_final_msg {
	uint32_t	 timeout;
	uint32_t	 pad;
};

/* IMSG_SYNC_FINAL_DONE, syncd -> monitor: how the last round ended */
struct sync_final_done_msg {
	uint32_t	 ok;
	uint32_t	 pad;
	char		 reason[FAULT_LEN];	/* when it failed */
};

/* IMSG_DNS_UPDATE, monitor -> dnsd: point the name here, and keep it */
struct dns_update_msg {
	int64_t		 epoch;
};

/* IMSG_DNS_RESULT, dnsd -> monitor: an update or check done or failed */
struct dns_result_msg {
	uint32_t	 ok;
	uint32_t	 pad;
	char		 reason[FAULT_LEN];
};

/* IMSG_SYNC_ALERT, syncd -> monitor: an alert for the monitor to send */
struct sync_alert_msg {
	char		 name[16];	/* "sync-failed", "peer-down" */
	char		 detail[256];
};

/* control socket: IMSG_CTL_STATUS reply */
struct ctl_status {
	char		 node[NAME_LEN];
	char		 cluster[NAME_LEN];
	uint32_t	 role;
	uint32_t	 db_up;
	int64_t		 epoch;		/* -1: null */
	char		 holder[NAME_LEN];	/* "": null */
	int64_t		 lease_left_ms;	/* -1: null */
	char		 fault[FAULT_LEN];	/* "": null */
	int64_t		 sync_last_ok;	/* unix seconds, -1: null */
	char		 sync_last_error[FAULT_LEN];
	uint64_t	 sync_files;
	uint64_t	 sync_bytes;
	uint64_t	 sync_skipped;	/* at the last scan */
};

/* IMSG_CTL_STATUS_NODE, after IMSG_CTL_STATUS: one per failover_node row */
struct ctl_status_node {
	char		 node[NAME_LEN];
	uint32_t	 role;
	uint32_t	 pad;
	int64_t		 seen_ms_ago;	/* -1: never */
};

/* IMSG_CTL_STATUS_VIP: one per configured VIP */
struct ctl_status_vip {
	struct fo_addr	 addr;
	uint8_t		 prefixlen;
	uint8_t		 bound;
	uint8_t		 pad[2];
	char		 ifname[IFNAMSIZ];
};

/* IMSG_CTL_STATUS_PEER: one per sync peer, as syncd last said */
struct ctl_status_peer {
	char		 node[NAME_LEN];
	char		 state[16];
	int64_t		 last_ok;	/* unix seconds, -1: never */
	char		 error[FAULT_LEN];
};

/* IMSG_CTL_STATUS_ATTIC: one per attic, newest first */
struct ctl_status_attic {
	int64_t		 epoch;
	uint64_t	 files;
};

/* requests carry this; unused fields are zero */
struct ctl_req {
	char		 node[NAME_LEN];
	int32_t		 value;
	int32_t		 flags;
};
#define CTL_F_MORE	0x01	/* status: IMSG_CTL_STATUS_MORE too (a
				   failoverctl of before it does not ask) */

/* IMSG_CTL_STATUS_MORE, after IMSG_CTL_STATUS when CTL_F_MORE is asked */
struct ctl_status_more {
	int64_t		 role_since;	/* unix ms of the last change, -1 */
	char		 role_why[FAULT_LEN];
	uint32_t	 dead;		/* L, ms */
	uint32_t	 interval;
	uint64_t	 takeovers;	/* since the daemon started */
	uint64_t	 demotions;
	uint64_t	 faults;
	uint64_t	 alerts;
	char		 version[32];
};

/* IMSG_CTL_RESULT */
struct ctl_result {
	int32_t		 code;		/* 0 ok, else the exit status */
	char		 msg[CTL_MSG_LEN];
};

const char	*role_name(enum role);
const char	*fault_name(uint32_t);
const char	*proc_name(enum proc_id);

/* the processes' entry points */
void		 heartbeatd_main(int, int);
void		 netd_main(int, int);
void		 dnsd_main(int, int);
void		 syncd_main(int, int);

#endif /* FAILOVERD_H */
