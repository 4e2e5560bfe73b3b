/*
 * The monitor: configuration, children, control socket.
 */

#ifndef MONITOR_H
#define MONITOR_H

#include <sys/queue.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>

#include "failoverd.h"
#include "imsg.h"
#include "util.h"

#define CONF_CHECKONLY	0x01	/* -n: what the config names may be missing */
#define CONF_NODEGIVEN	0x02	/* -N was given */
#define CONF_QUIET	0x04	/* reload: errors to the log, not stderr */

#define REDACTED	"********"

/* where a statement was, for messages after the parse */
struct conf_where {
	char			*file;
	int			 line;
};

struct conf_node {
	TAILQ_ENTRY(conf_node)	 entry;
	char			 name[NAME_LEN];
	struct fo_addr		 addr;
	int			 addr_set;
	int			 npubkeys;
	char			 pubkey_b64[MAX_PUBKEYS][KEY_B64LEN];
	uint8_t			 pubkey[MAX_PUBKEYS][KEY_LEN];
	uint32_t		 priority;
	uint16_t		 port;		/* 0: the own listen port */
	int			 lineno;
};

struct conf_vip {
	TAILQ_ENTRY(conf_vip)	 entry;
	struct fo_addr		 addr;
	int			 prefixlen;
	char			 ifname[IFNAMSIZ];
	char			 label[IFNAMSIZ];
};

struct conf_pattern {
	TAILQ_ENTRY(conf_pattern) entry;
	char			*pattern;
};

struct conf_dir {
	TAILQ_ENTRY(conf_dir)	 entry;
	char			*path;
	TAILQ_HEAD(, conf_pattern) excludes;
};

/* a command: hook, check or alert command, split on blanks */
struct conf_cmd {
	char			*line;
	char			**argv;
	uint32_t		 timeout;
	uint32_t		 interval;	/* check only */
	uint32_t		 fall;
	uint32_t		 rise;
	struct conf_where	 where;
};

enum alert_type {
	ALERT_MAIL,
	ALERT_COMMAND
};

struct conf_alert {
	TAILQ_ENTRY(conf_alert)	 entry;
	enum alert_type		 type;
	char			*to;
	char			*from;
	struct fo_addr		 via;
	uint16_t		 port;
	struct conf_cmd		 cmd;
};

struct conf_hostname {
	char			*name;
	struct fo_addr		 server;
	int			 server_set;
	uint16_t		 port;
	char			*zone;
	uint32_t		 ttl;
	char			*keyname;
	char			*secret;	/* inline, base64 */
	char			*secret_file;
	char			*algorithm;
	struct conf_where	 where;
};

struct conf_sync {
	struct fo_addr		 listen;
	uint16_t		 port;
	char			*key_file;
	char			*user;
	uint32_t		 interval;
	uint32_t		 delay;
	uint32_t		 max_delete;
	uint32_t		 attic_keep;	/* epochs */
	uint32_t		 alert_after;
	TAILQ_HEAD(, conf_dir)	 dirs;
	struct conf_where	 where;
};

struct fo_conf {
	char			 file[PATH_LEN];
	char			 cluster[NAME_LEN];
	TAILQ_HEAD(, conf_node)	 nodes;
	char			*database;
	struct fo_timing	 timing;
	struct conf_where	 timing_where;
	int			 preempt;
	uint32_t		 preempt_delay;
	TAILQ_HEAD(vipq, conf_vip)	 vips;
	int			 nvips;
	enum garp_type		 garp_type;
	uint32_t		 garp_count;
	uint32_t		 garp_interval;
	uint32_t		 garp_refresh;
	int			 probe;
	uint32_t		 probe_wait;
	struct conf_hostname	*hostname;
	struct conf_sync	*sync;
	char			*ctl_socket;
	char			*ctl_group;
	char			*script_user;
	struct conf_where	 ctl_where;
	struct conf_where	 user_where;
	struct conf_cmd		*on_active;
	struct conf_cmd		*on_standby;
	struct conf_cmd		*on_fault;
	struct conf_cmd		*check;
	TAILQ_HEAD(, conf_alert) alerts;
	char			 node[NAME_LEN];	/* this node */
	struct conf_node	*self;
};

/* parse.y */
struct fo_conf	*parse_config(const char *, const char *, int);

/* config.c */
struct fo_conf	*config_load(const char *, const char *, int, const char *);
int		 config_check(struct fo_conf *, int, const struct conf_where *);
void		 config_send(struct fo_conf *);
int		 config_reload(char *, size_t);
void		 config_cmd_free(struct conf_cmd *);
void		 config_free(struct fo_conf *);

/* printconf.c */
void		 printconf(FILE *, struct fo_conf *);
char		*printconf_part(struct fo_conf *, int);
#define PART_FIXED	0	/* what a reload may not change */
#define PART_RELOAD	1	/* what it may */

/* monitor.c */
struct monitor_state {
	struct fo_conf		*conf;
	enum role		 role;
	int64_t			 epoch;
	uint64_t		 t0;
	uint64_t		 demote_at;
	uint64_t		 kill_at;
	uint64_t		 may_take_at;
	char			 holder[NAME_LEN];
	char			 reason[FAULT_LEN];
	int			 db_up;
	char			 db_error[FAULT_LEN];
	struct nodes_msg	 nodes;
#define MAX_VIPS_STATUS	256
	uint8_t			 vip_bound[MAX_VIPS_STATUS];
	struct sync_status_msg	 sync;
	char			 dns_fault[FAULT_LEN];	/* "": none */
	int64_t			 role_since;	/* unix ms of the last change */
	char			 role_why[FAULT_LEN];
	uint64_t		 takeovers;	/* counted since the start */
	uint64_t		 demotions;
	uint64_t		 faults;
	uint64_t		 alerts;
	int			 standby_lost;	/* active: no standby seen */
	uint64_t		 active_since;	/* monotonic, 0: not active */
};
extern struct monitor_state	 mon;
void		 monitor_log_verbose(int);
int		 monitor_child_running(int);
void		 monitor_compose(enum proc_id, uint32_t, const void *, size_t);
void		 monitor_compose_fd(enum proc_id, uint32_t, int, const void *,
		    size_t);

/* hooks.c */
enum job_kind {
	JOB_ON_ACTIVE,
	JOB_ON_STANDBY,
	JOB_ON_FAULT,
	JOB_CHECK,
	JOB_ALERT,
	JOB_MAIL
};
typedef void	(*job_done_cb)(enum job_kind, int);
struct timers;
void		 hooks_init(struct timers *, unsigned int);
void		 hooks_run(enum job_kind, struct conf_cmd *, const char *,
		    int64_t, uint32_t, uint64_t, job_done_cb);
void		 hooks_alert_cmd(struct conf_cmd *, const char *, const char *,
		    int64_t, uint32_t);
void		 hooks_beside(enum job_kind, const char *, uint32_t,
		    int (*)(void *), void (*)(void *), void *);
int		 hooks_pollfds(struct pollfd *, int);
void		 hooks_dispatch(struct pollfd *, int);
int		 hooks_busy(void);
void		 hooks_cap(enum job_kind, uint64_t);
void		 hooks_cancel(enum job_kind);
int		 hooks_reap(pid_t, int);
void		 hooks_timeout(void);
void		 hooks_kill_all(void);

/* role.c */
void		 role_init(struct timers *, unsigned int, unsigned int);
void		 role_change(struct role_msg *);
void		 role_renewed(const struct renewed_msg *);
void		 role_vip_bound(const struct vip_bound_msg *);
void		 role_vip_dropped(const struct vip_dropped_msg *);
void		 role_sync_final(const struct sync_final_done_msg *);
void		 role_deadline(void);
void		 role_kill_deadline(void);
void		 role_fault_send(uint32_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

/* alert.c */
#define ALERT_INTERVAL	60000	/* ms: at most one alert of a name */
#define ALERT_TIMEOUT	10000	/* ms for a sender */
void		 alert_init(struct timers *, unsigned int);
void		 alert_timeout(void);
void		 alert(const char *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

/* control.c */
int		 control_init(const char *, const char *);
void		 control_cleanup(const char *);
int		 control_listen_fd(void);
void		 control_accept(void);
void		 control_timer_init(struct timers *, unsigned int);
void		 control_timeout(void);
int		 control_pollfds(struct pollfd *, int);
void		 control_dispatch(struct pollfd *, int);
int		 control_running(const char *);
void		 control_history_line(const struct history_line_msg *);
void		 control_history_pause(uint32_t);
void		 control_req_result(const struct req_result_msg *);

/* notify.c */
void		 notify_init(struct timers *, unsigned int);
int		 notify_systemd(void);
void		 notify_ready(void);
void		 notify_stopping(void);
void		 notify_status(void);
void		 notify_watchdog(void);
void		 notify_pong(int, uint32_t);
void		 notify_busy(int, int);

/* ctl.c */
int		 ctl_main(int, char *[]);

#endif /* MONITOR_H */
