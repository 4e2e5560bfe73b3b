/*
 * heartbeatd: the lease protocol with PostgreSQL.  It runs as _failoverd
 * without capabilities under seccomp, owns the lease and therefore
 * decides the role; the monitor acts on its word.
 *
 * This file is the loop: it reads the clock, hands every event with its
 * time to the state machine (lease.c), sends the statements it asks for
 * through db.c, and arms one timer for the state machine's earliest
 * deadline and one for the statement in flight.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "heartbeatd.h"
#include "imsg.h"
#include "lease.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "timer.h"
#include "util.h"

enum {
	T_LEASE,	/* the state machine's earliest deadline */
	T_QUERY		/* the connection or statement in flight */
};

struct histreq {
	TAILQ_ENTRY(histreq)	 entry;
	uint32_t		 id;
	int			 n;
	int			 back;		/* ids still to count back */
	int			 forward;	/* counted: rows are sent */
	int			 left;		/* rows still to send */
	int			 page;		/* asked for in flight */
	int			 cancelled;	/* its reader went */
	int			 paused;	/* until IMSG_HISTORY_MORE */
	int64_t			 from;		/* least id counted, then the
						   next to send; 0: none */
};

#define MAX_HISTQ	4		/* history requests waiting at once */
#define HISTORY_PAGE	100		/* rows a statement: well under the
					   monitor's 256 unread a reader */
#define HISTORY_STEP	2000		/* ids counted back a statement */

static TAILQ_HEAD(, histreq)	 histq = TAILQ_HEAD_INITIALIZER(histq);
static int			 nhistq;
static int			 hist_out;	/* the first is in flight */

static struct imsgbuf		 ibuf_main;
static struct timers		 timers;
static struct lease		 lease;
static struct conf_heartbeat	 hconf;
static struct conf_peer		 nodes[MAX_NODES];
static int			 nnodes;
static int			 conf_state;
static char			 token[37];

static void	 heartbeatd_dispatch(void);

static void
send_main(uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&ibuf_main, type, 0, 0, -1, data, len) == -1)
		fatal("imsg_compose");
}

static void
lease_out(void *arg, uint32_t type, const void *data, size_t len)
{
	(void)arg;
	send_main(type, data, len);
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

static void
req_result(uint32_t id, int code, const char *msg)
{
	struct req_result_msg	 hm;

	memset(&hm, 0, sizeof(hm));
	hm.id = id;
	hm.code = code;
	strlcpy(hm.msg, msg, sizeof(hm.msg));
	send_main(IMSG_REQ_RESULT, &hm, sizeof(hm));
}

/* The next statement, when the connection is idle: the lease's first. */
static void
work(void)
{
	struct lease_stmt	 st;
	struct histreq		*h;
	uint64_t		 now;

	if (!db_idle() && lease.db_ready)
		return;
	/* read before the statement is written: a renewal's t0 */
	now = timer_now();
	if (lease_next(&lease, now, &st)) {
		db_statement(now, &st);
		return;
	}
	if (!db_idle() || hist_out || (h = TAILQ_FIRST(&histq)) == NULL ||
	    h->paused)
		return;
	if (!h->forward) {
		h->page = h->back < HISTORY_STEP ? h->back : HISTORY_STEP;
		if (db_history_from(now, h->from ? h->from : INT64_MAX,
		    h->page) == 0)
			hist_out = 1;
		return;
	}
	h->page = h->left < HISTORY_PAGE ? h->left : HISTORY_PAGE;
	if (db_history_page(now, h->from, h->page) == 0)
		hist_out = 1;
}

void
heartbeatd_db_ready(void)
{
	struct db_msg	 m;

	memset(&m, 0, sizeof(m));
	m.up = 1;
	send_main(IMSG_DB_STATE, &m, sizeof(m));
	lease_db_ready(&lease, timer_now());
}

void
heartbeatd_db_down(const char *err)
{
	struct histreq	*h;
	struct db_msg	 m;
	char		 msg[CTL_MSG_LEN];

	log_warnx("database: %s", err);
	memset(&m, 0, sizeof(m));
	strlcpy(m.error, err, sizeof(m.error));
	send_main(IMSG_DB_STATE, &m, sizeof(m));
	snprintf(msg, sizeof(msg), "history: %s", err);
	while ((h = TAILQ_FIRST(&histq)) != NULL) {
		TAILQ_REMOVE(&histq, h, entry);
		nhistq--;
		req_result(h->id, 1, msg);
		free(h);
	}
	hist_out = 0;
	lease_db_down(&lease, timer_now(), err);
}

void
heartbeatd_reply(const struct lease_reply *r, uint64_t sent)
{
	lease_reply(&lease, timer_now(), sent, r);
}

void
heartbeatd_notified(void)
{
	lease_notified(&lease);
}

void
heartbeatd_history_line(const char *line)
{
	struct history_line_msg	 hm;
	struct histreq		*h;

	if ((h = TAILQ_FIRST(&histq)) == NULL || h->cancelled)
		return;
	memset(&hm, 0, sizeof(hm));
	hm.id = h->id;
	strlcpy(hm.line, line, sizeof(hm.line));
	send_main(IMSG_HISTORY_LINE, &hm, sizeof(hm));
}

static void
history_done(int ok, const char *err)
{
	struct histreq	*h;
	char		 msg[CTL_MSG_LEN];

	if ((h = TAILQ_FIRST(&histq)) == NULL)
		return;
	TAILQ_REMOVE(&histq, h, entry);
	nhistq--;
	snprintf(msg, sizeof(msg), "history: %s", err);
	msg[strcspn(msg, "\n")] = '\0';
	if (!h->cancelled)
		req_result(h->id, ok ? 0 : 1, ok ? "" : msg);
	free(h);
}

/* The reader of history id went: out of the queue, or ended at the
 * page in flight. */
static void
history_cancel(uint32_t id)
{
	struct histreq	*h;

	TAILQ_FOREACH(h, &histq, entry)
		if (h->id == id)
			break;
	if (h == NULL)
		return;
	log_info("history request %u: its reader went, %d of %d rows "
	    "unsent; cancelled", id, h->forward ? h->left : h->n, h->n);
	h->cancelled = 1;
	if (h == TAILQ_FIRST(&histq) && hist_out)
		return;		/* ended when its page comes */
	TAILQ_REMOVE(&histq, h, entry);
	nhistq--;
	free(h);
}

/* count ids before the last counted, the least of them id. */
void
heartbeatd_history_from(int ok, int64_t id, int count, const char *err)
{
	struct histreq	*h;

	hist_out = 0;
	if ((h = TAILQ_FIRST(&histq)) == NULL)
		return;
	if (!ok || h->cancelled) {
		history_done(ok, err);
		return;
	}
	if (count > 0) {
		h->from = id;
		h->back -= count;
	}
	if (count < h->page || h->back <= 0) {
		/* where the rows start: forward from there */
		if (h->from == 0) {
			history_done(1, "");	/* none */
			return;
		}
		h->forward = 1;
		h->left = h->n;
	}
}

/* A page of rows went out, the last with id last. */
void
heartbeatd_history_page(int ok, int rows, int64_t last, const char *err)
{
	struct history_id_msg	 hi;
	struct histreq		*h;

	hist_out = 0;
	if ((h = TAILQ_FIRST(&histq)) == NULL)
		return;
	h->left -= rows;
	h->from = last + 1;
	if (!ok || rows < h->page || h->left <= 0 || h->cancelled) {
		history_done(ok, err);
		return;
	}
	/* the next page once the reader has taken this one */
	memset(&hi, 0, sizeof(hi));
	hi.id = h->id;
	h->paused = 1;
	send_main(IMSG_HISTORY_PAUSE, &hi, sizeof(hi));
}

void
heartbeatd_main(int debug, int verbose)
{
	struct pollfd	 pfd[3];
	uint64_t	 now;
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
		if (conf_state == 2) {
			work();
			if (lease_next_due(&lease) != 0)
				timer_set_at(&timers, T_LEASE,
				    lease_next_due(&lease));
			else if (timer_running(&timers, T_LEASE))
				timer_stop(&timers, T_LEASE);
			if (db_deadline() != 0)
				timer_set_at(&timers, T_QUERY, db_deadline());
			else if (timer_running(&timers, T_QUERY))
				timer_stop(&timers, T_QUERY);
		}

		proc_pollfd(&pfd[0], &ibuf_main);
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
		if (pfd[1].revents & POLLIN)
			timer_ack(&timers);
		/*
		 * Deadlines first, whatever woke the loop: a late reply must
		 * not outlive the lease, and no deadline waits for another
		 * event to be seen.
		 */
		if (conf_state == 2) {
			now = timer_now();
			if (db_deadline() != 0 && now >= db_deadline())
				db_timeout(now);
			if (lease_timers(&lease, now) && db_down())
				db_connect(now);
		}
		if (n == 3 && pfd[2].revents)
			db_io(pfd[2].revents, timer_now());
		proc_pollio(&pfd[0], &ibuf_main, heartbeatd_dispatch);
	}
}

static void
heartbeatd_dispatch(void)
{
	struct imsg		 imsg;
	struct demote_msg	 d;
	struct switchover_msg	 so;
	struct maintenance_msg	 mm;
	struct start_msg	 sm;
	struct demote_done_msg	 dd;
	struct fault_msg	 f;
	struct vip_extended_msg	 ve;
	struct history_msg	 hm;
	struct histreq		*h;
	ssize_t			 n;
	uint32_t		 type;
	int			 i;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		type = imsg_get_type(&imsg);
		if (conf_state != 2 && type != IMSG_CONF_HEARTBEAT &&
		    type != IMSG_CONF_NODE && type != IMSG_CONF_END)
			fatalx("message %u before the configuration", type);
		switch (type) {
		case IMSG_CONF_HEARTBEAT:
			if (conf_state != 0 || imsg_get_data(&imsg, &hconf,
			    sizeof(hconf)) == -1 || !STR_OK(hconf.cluster) ||
			    !STR_OK(hconf.node) || !STR_OK(hconf.conninfo))
				fatalx("bad IMSG_CONF_HEARTBEAT");
			if (hconf.timing.interval == 0 ||
			    hconf.timing.dead < hconf.timing.margin +
			    2 * hconf.timing.interval + hconf.timing.timeout)
				fatalx("bad timing in IMSG_CONF_HEARTBEAT");
			conf_state = 1;
			break;
		case IMSG_CONF_NODE:
			if (conf_state != 1 || nnodes >= MAX_NODES ||
			    imsg_get_data(&imsg, &nodes[nnodes],
			    sizeof(nodes[0])) == -1 ||
			    !STR_OK(nodes[nnodes].name))
				fatalx("bad IMSG_CONF_NODE");
			nnodes++;
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			for (i = 0; i < nnodes; i++)
				if (strcmp(nodes[i].name, hconf.node) == 0)
					break;
			if (i == nnodes)
				fatalx("bad IMSG_CONF_END: no node %s",
				    hconf.node);
			conf_state = 2;
			db_init(&hconf, token);
			lease_init(&lease, &hconf, nodes, nnodes, token,
			    lease_out, NULL);
			explicit_bzero(hconf.conninfo, sizeof(hconf.conninfo));
			db_connect(timer_now());
			send_main(IMSG_READY, NULL, 0);
			break;
		case IMSG_START:
			if (imsg_get_data(&imsg, &sm, sizeof(sm)) == -1 ||
			    lease.started || sm.ok > 1 || !STR_OK(sm.reason))
				fatalx("bad IMSG_START");
			lease_ctl_start(&lease, timer_now(), sm.ok, sm.reason);
			break;
		case IMSG_VIP_EXTENDED:
			if (imsg_get_data(&imsg, &ve, sizeof(ve)) == -1)
				fatalx("bad IMSG_VIP_EXTENDED");
			lease_ctl_vip_extended(&lease, ve.epoch, ve.t0);
			break;
		case IMSG_DEMOTE:
			if (imsg_get_data(&imsg, &d, sizeof(d)) == -1 ||
			    d.reason > DEMOTE_DEADLINE || !STR_OK(d.target) ||
			    !STR_OK(d.detail))
				fatalx("bad IMSG_DEMOTE");
			lease_ctl_demote(&lease, timer_now(), &d);
			break;
		case IMSG_DEMOTE_DONE:
			if (imsg_get_data(&imsg, &dd, sizeof(dd)) == -1 ||
			    dd.ok > 1)
				fatalx("bad IMSG_DEMOTE_DONE");
			lease_ctl_demote_done(&lease, timer_now(), dd.ok,
			    dd.epoch);
			break;
		case IMSG_FAULT:
			if (imsg_get_data(&imsg, &f, sizeof(f)) == -1 ||
			    f.source >= FAULT_MAX || f.ok > 1 ||
			    !STR_OK(f.reason))
				fatalx("bad IMSG_FAULT");
			lease_ctl_fault(&lease, timer_now(), &f);
			break;
		case IMSG_SWITCHOVER:
			if (imsg_get_data(&imsg, &so, sizeof(so)) == -1 ||
			    !STR_OK(so.target))
				fatalx("bad IMSG_SWITCHOVER");
			lease_ctl_switchover(&lease, timer_now(), &so);
			break;
		case IMSG_MAINTENANCE:
			if (imsg_get_data(&imsg, &mm, sizeof(mm)) == -1 ||
			    mm.enter > 1)
				fatalx("bad IMSG_MAINTENANCE");
			lease_ctl_maintenance(&lease, timer_now(), &mm);
			break;
		case IMSG_HISTORY:
			if (imsg_get_data(&imsg, &hm, sizeof(hm)) == -1 ||
			    hm.lines < 1 || hm.lines > 100000)
				fatalx("bad IMSG_HISTORY");
			if (!lease.db_ready) {
				req_result(hm.id, 1, "history: the database "
				    "is down");
				break;
			}
			if (nhistq >= MAX_HISTQ) {
				req_result(hm.id, 1, "history: busy (4 "
				    "requests before this one); try again");
				break;
			}
			if ((h = calloc(1, sizeof(*h))) == NULL)
				fatal(NULL);
			h->id = hm.id;
			h->n = h->back = hm.lines;
			TAILQ_INSERT_TAIL(&histq, h, entry);
			nhistq++;
			break;
		case IMSG_HISTORY_CANCEL:
		case IMSG_HISTORY_MORE: {
			struct history_id_msg	 hi;

			if (imsg_get_data(&imsg, &hi, sizeof(hi)) == -1)
				fatalx("bad message %u", type);
			if (type == IMSG_HISTORY_CANCEL)
				history_cancel(hi.id);
			else if ((h = TAILQ_FIRST(&histq)) != NULL &&
			    h->id == hi.id)
				h->paused = 0;
			break;
		}
		case IMSG_STOP:
			if (imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_STOP");
			lease_ctl_stop(&lease, timer_now());
			break;
		case IMSG_LOG_VERBOSE:
			proc_log_verbose(&imsg);
			break;
		case IMSG_PING:
			proc_pong(&imsg, &ibuf_main);
			break;
		default:
			fatalx("unexpected message %u", type);
		}
		imsg_free(&imsg);
	}
}
