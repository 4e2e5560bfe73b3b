/*
 * The control socket: fixed-size requests in imsgs, the peer's
 * credentials checked and logged for every command.  Members of the
 * socket's group may read (status, history); only root may act, and
 * none of them can lock root out or grow the monitor: one request per
 * connection, 10 s to send it and to read the answer, at most
 * CONTROL_MAX_QUEUE messages waiting for a reader, and a full table
 * makes room by closing the oldest idle connection of a user not root.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "monitor.h"
#include "timer.h"
#include "util.h"

#define CONTROL_MAX_CONNS	32
#define CONTROL_MAXSIZE		(IMSG_HEADER_SIZE + sizeof(struct ctl_req))
#define CONTROL_IDLE_MS		10000	/* to send a request; to read an answer */
#define CONTROL_MAX_QUEUE	256	/* answers a client may leave unread */

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	struct imsgbuf		 ibuf;
	uid_t			 uid;
	pid_t			 pid;
	uint32_t		 id;	/* of a request heartbeatd answers */
	int			 waiting;
	int			 history;	/* that request is history */
	int			 paused;	/* its next page waits */
	int			 done;	/* answered: close once flushed */
	uint64_t		 since;	/* ms: accepted, or answered */
};

static TAILQ_HEAD(, ctl_conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static struct timers		*ctl_timers;
static unsigned int		 ctl_timer;
static int			 ctl_fd = -1;
static int			 nconns;
static uint32_t			 next_id = 1;

/* A request's id for the children's answer; 0 means none. */
static uint32_t
request_id(void)
{
	if (next_id == 0)
		next_id = 1;
	return (next_id++);
}

static void	 control_close(struct ctl_conn *);
static void	 control_request(struct ctl_conn *, struct imsg *);
static void	 control_arm(void);
static void	 history_more(struct ctl_conn *);

static int
control_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (0);
}

/* Does another daemon answer on path? */
int
control_running(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rc;

	if (control_addr(path, &sun) == -1)
		return (0);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return (rc);
}

int
control_init(const char *path, const char *group)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	struct stat		 st;
	mode_t			 old;
	int			 fd;

	if ((gr = getgrnam(group)) == NULL) {
		log_warnx("control socket group %s does not exist", group);
		return (-1);
	}
	if (control_addr(path, &sun) == -1) {
		log_warn("control socket %s", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("control socket");
		return (-1);
	}
	/* a stale socket of a dead daemon; control_running() said so */
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("unlink %s", path);
		close(fd);
		return (-1);
	}
	/* the mode comes from the umask at bind, and the group is set on
	 * the name itself (lchown): a symlink put in its place meanwhile
	 * cannot redirect either to another file */
	old = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("bind %s", path);
		umask(old);
		close(fd);
		return (-1);
	}
	umask(old);
	if (lchown(path, 0, gr->gr_gid) == -1 || lstat(path, &st) == -1 ||
	    !S_ISSOCK(st.st_mode) || st.st_gid != gr->gr_gid) {
		log_warnx("control socket %s: not the socket bound, or its "
		    "group could not be set", path);
		close(fd);
		return (-1);
	}
	if (listen(fd, 16) == -1) {
		log_warn("listen %s", path);
		close(fd);
		unlink(path);
		return (-1);
	}
	ctl_fd = fd;
	return (0);
}

void
control_cleanup(const char *path)
{
	struct ctl_conn	*c;

	while ((c = TAILQ_FIRST(&conns)) != NULL)
		control_close(c);
	if (ctl_fd != -1) {
		close(ctl_fd);
		ctl_fd = -1;
		unlink(path);
	}
}

int
control_pollfds(struct pollfd *pfd, int max)
{
	struct ctl_conn	*c;
	int		 n = 0;

	if (ctl_fd == -1 || max < 1)
		return (0);
	/* a full table makes room (control_accept): always listen */
	pfd[n].fd = ctl_fd;
	pfd[n++].events = POLLIN;
	TAILQ_FOREACH(c, &conns, entry) {
		if (n >= max)
			break;
		pfd[n].fd = c->ibuf.fd;
		pfd[n].events = c->done || c->waiting ? 0 : POLLIN;
		if (imsgbuf_queuelen(&c->ibuf) > 0)
			pfd[n].events |= POLLOUT;
		n++;
	}
	return (n);
}

void
control_accept(void)
{
	struct ctl_conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd;

	if ((fd = accept4(ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	if (nconns >= CONTROL_MAX_CONNS) {
		struct ctl_conn	*o, *victim = NULL;

		/* the oldest idle one, of a user not root if there is one */
		TAILQ_FOREACH(o, &conns, entry) {
			if (o->waiting)
				continue;
			if (victim == NULL || (victim->uid == 0 && o->uid != 0))
				victim = o;
		}
		if (victim == NULL) {
			log_warnx("control: uid %u pid %d: refused, %d "
			    "requests under way", cred.uid, cred.pid, nconns);
			close(fd);
			return;
		}
		log_warnx("control: uid %u pid %d: closed to make room for "
		    "uid %u", victim->uid, victim->pid, cred.uid);
		control_close(victim);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    imsgbuf_init(&c->ibuf, fd) == -1) {
		log_warn("control accept");
		free(c);
		close(fd);
		return;
	}
	if (imsgbuf_set_maxsize(&c->ibuf, CONTROL_MAXSIZE + 4096) == -1)
		fatal("imsgbuf_set_maxsize");
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->since = timer_now();
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	control_arm();
}

void
control_timer_init(struct timers *t, unsigned int id)
{
	ctl_timers = t;
	ctl_timer = id;
}

/* The next idle deadline: of a request not sent, an answer not read. */
static void
control_arm(void)
{
	struct ctl_conn	*c;
	uint64_t	 at = 0;

	if (ctl_timers == NULL)
		return;
	TAILQ_FOREACH(c, &conns, entry)
		if ((!c->waiting || c->paused) &&
		    (at == 0 || c->since + CONTROL_IDLE_MS < at))
			at = c->since + CONTROL_IDLE_MS;
	if (at != 0)
		timer_set_at(ctl_timers, ctl_timer, at);
	else
		timer_stop(ctl_timers, ctl_timer);
}

/* Connections idle past their deadline are closed. */
void
control_timeout(void)
{
	struct ctl_conn	*c, *next;
	uint64_t	 now = timer_now();

	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if ((c->waiting && !c->paused) ||
		    now < c->since + CONTROL_IDLE_MS)
			continue;
		log_warnx("control: uid %u pid %d: %s within %d s; closed",
		    c->uid, c->pid, c->paused ? "history: read nothing" :
		    c->done ? "did not read the answer" : "sent no request",
		    CONTROL_IDLE_MS / 1000);
		control_close(c);
	}
	control_arm();
}

static void
control_close(struct ctl_conn *c)
{
	struct history_id_msg	 hi;

	if (c->waiting && c->history) {
		/* heartbeatd reads no more of it for nobody */
		memset(&hi, 0, sizeof(hi));
		hi.id = c->id;
		monitor_compose(PROC_HEARTBEAT, IMSG_HISTORY_CANCEL, &hi,
		    sizeof(hi));
	}
	TAILQ_REMOVE(&conns, c, entry);
	imsgbuf_clear(&c->ibuf);
	close(c->ibuf.fd);
	free(c);
	nconns--;
}

void
control_dispatch(struct pollfd *pfd, int n)
{
	struct ctl_conn	*c, *next;
	struct imsg	 imsg;
	ssize_t		 r;
	int		 i;

	if (n == 0)
		return;
	if (pfd[0].revents & POLLIN)
		control_accept();
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		for (i = 1; i < n; i++)
			if (pfd[i].fd == c->ibuf.fd)
				break;
		if (i == n)
			continue;
		if (pfd[i].revents & POLLOUT &&
		    imsgbuf_write(&c->ibuf) == -1) {
			control_close(c);
			continue;
		}
		history_more(c);
		if (c->done) {
			if (imsgbuf_queuelen(&c->ibuf) == 0)
				control_close(c);
			continue;
		}
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((r = imsgbuf_read(&c->ibuf)) <= 0) {
			control_close(c);
			continue;
		}
		/* one request a connection: what follows it is not read */
		if (c->waiting)
			continue;
		if ((r = imsg_get(&c->ibuf, &imsg)) == -1) {
			log_warnx("control: uid %u pid %d: malformed request",
			    c->uid, c->pid);
			control_close(c);
			continue;
		}
		if (r == 0)
			continue;
		control_request(c, &imsg);
		imsg_free(&imsg);
		if (c->done && (imsgbuf_write(&c->ibuf) == -1 ||
		    imsgbuf_queuelen(&c->ibuf) == 0))
			control_close(c);
	}
}

static void
control_result(struct ctl_conn *c, int code, const char *msg)
{
	struct ctl_result	 res;

	memset(&res, 0, sizeof(res));
	res.code = code;
	strlcpy(res.msg, msg, sizeof(res.msg));
	imsg_compose(&c->ibuf, IMSG_CTL_RESULT, 0, 0, -1, &res, sizeof(res));
	c->done = 1;
	c->waiting = 0;
	c->since = timer_now();		/* 10 s to read it */
	control_arm();
}

static void
control_status(struct ctl_conn *c, int more)
{
	struct ctl_status	 st;
	struct ctl_status_vip	 sv;
	struct conf_vip		*v;
	struct fo_conf		*conf = mon.conf;

	struct ctl_status_node	 sn;
	struct ctl_status_peer	 sp;
	struct ctl_status_attic	 sa;
	uint64_t		 now = timer_now();
	uint32_t		 i;

	memset(&st, 0, sizeof(st));
	strlcpy(st.node, conf->node, sizeof(st.node));
	strlcpy(st.cluster, conf->cluster, sizeof(st.cluster));
	st.role = mon.role;
	st.db_up = mon.db_up;
	st.epoch = mon.epoch;
	strlcpy(st.holder, mon.holder, sizeof(st.holder));
	/* active: to its own demotion; standby: until it may take over */
	st.lease_left_ms = -1;
	if (mon.role == ROLE_ACTIVE && mon.demote_at != 0)
		st.lease_left_ms = mon.demote_at > now ?
		    (int64_t)(mon.demote_at - now) : 0;
	else if (mon.role == ROLE_STANDBY && mon.may_take_at != 0 &&
	    mon.holder[0] != '\0')
		st.lease_left_ms = mon.may_take_at > now ?
		    (int64_t)(mon.may_take_at - now) : 0;
	if (mon.role == ROLE_FAULT)
		strlcpy(st.fault, mon.reason[0] ? mon.reason : "fault",
		    sizeof(st.fault));
	else if (!mon.db_up && mon.db_error[0] != '\0')
		snprintf(st.fault, sizeof(st.fault), "database: %.100s",
		    mon.db_error);
	else if (mon.dns_fault[0] != '\0')
		strlcpy(st.fault, mon.dns_fault, sizeof(st.fault));
	st.sync_last_ok = mon.sync.last_ok;
	strlcpy(st.sync_last_error, mon.sync.last_error,
	    sizeof(st.sync_last_error));
	st.sync_files = mon.sync.files;
	st.sync_bytes = mon.sync.bytes;
	st.sync_skipped = mon.sync.skipped;
	imsg_compose(&c->ibuf, IMSG_CTL_STATUS, 0, 0, -1, &st, sizeof(st));
	if (more) {
		struct ctl_status_more	 sm;

		memset(&sm, 0, sizeof(sm));
		sm.role_since = mon.role_since ? mon.role_since : -1;
		strlcpy(sm.role_why, mon.role_why, sizeof(sm.role_why));
		sm.dead = conf->timing.dead;
		sm.interval = conf->timing.interval;
		sm.takeovers = mon.takeovers;
		sm.demotions = mon.demotions;
		sm.faults = mon.faults;
		sm.alerts = mon.alerts;
		strlcpy(sm.version, FO_VERSION, sizeof(sm.version));
		imsg_compose(&c->ibuf, IMSG_CTL_STATUS_MORE, 0, 0, -1, &sm,
		    sizeof(sm));
	}
	for (i = 0; i < mon.sync.npeers && i < MAX_SYNC_PEERS; i++) {
		memset(&sp, 0, sizeof(sp));
		strlcpy(sp.node, mon.sync.peer[i].node, sizeof(sp.node));
		strlcpy(sp.state, mon.sync.peer[i].state, sizeof(sp.state));
		sp.last_ok = mon.sync.peer[i].last_ok;
		strlcpy(sp.error, mon.sync.peer[i].error, sizeof(sp.error));
		imsg_compose(&c->ibuf, IMSG_CTL_STATUS_PEER, 0, 0, -1, &sp,
		    sizeof(sp));
	}
	for (i = 0; i < mon.sync.nattics && i < MAX_ATTICS; i++) {
		memset(&sa, 0, sizeof(sa));
		sa.epoch = mon.sync.attic[i].epoch;
		sa.files = mon.sync.attic[i].files;
		imsg_compose(&c->ibuf, IMSG_CTL_STATUS_ATTIC, 0, 0, -1, &sa,
		    sizeof(sa));
	}
	for (i = 0; i < mon.nodes.n && i < MAX_NODES; i++) {
		memset(&sn, 0, sizeof(sn));
		strlcpy(sn.node, mon.nodes.e[i].node, sizeof(sn.node));
		sn.role = mon.nodes.e[i].role;
		sn.seen_ms_ago = mon.nodes.e[i].seen_ms_ago;
		imsg_compose(&c->ibuf, IMSG_CTL_STATUS_NODE, 0, 0, -1, &sn,
		    sizeof(sn));
	}
	i = 0;
	TAILQ_FOREACH(v, &conf->vips, entry) {
		memset(&sv, 0, sizeof(sv));
		sv.addr = v->addr;
		sv.prefixlen = v->prefixlen;
		sv.bound = i < MAX_VIPS_STATUS ? mon.vip_bound[i] : 0;
		i++;
		strlcpy(sv.ifname, v->ifname, sizeof(sv.ifname));
		imsg_compose(&c->ibuf, IMSG_CTL_STATUS_VIP, 0, 0, -1, &sv,
		    sizeof(sv));
	}
	imsg_compose(&c->ibuf, IMSG_CTL_END, 0, 0, -1, NULL, 0);
	c->done = 1;
}

static const char *
control_cmdname(uint32_t type)
{
	switch (type) {
	case IMSG_CTL_STATUS:		return ("status");
	case IMSG_CTL_SWITCHOVER:	return ("switchover");
	case IMSG_CTL_STANDBY:		return ("standby");
	case IMSG_CTL_RESUME:		return ("resume");
	case IMSG_CTL_SYNC:		return ("sync");
	case IMSG_CTL_HISTORY:		return ("history");
	case IMSG_CTL_RELOAD:		return ("reload");
	case IMSG_CTL_LOG:		return ("log");
	default:			return (NULL);
	}
}

static void
control_request(struct ctl_conn *c, struct imsg *imsg)
{
	struct ctl_req	 req;
	const char	*name;
	char		 msg[CTL_MSG_LEN];
	uint32_t	 type = imsg_get_type(imsg);

	if ((name = control_cmdname(type)) == NULL ||
	    imsg_get_data(imsg, &req, sizeof(req)) == -1) {
		log_warnx("control: uid %u pid %d: malformed request "
		    "(type %u)", c->uid, c->pid, type);
		control_result(c, 1, "malformed request");
		return;
	}
	if (!STR_OK(req.node)) {
		log_warnx("control: uid %u pid %d: malformed request "
		    "(%s: a node name without its end)", c->uid, c->pid, name);
		control_result(c, 1, "malformed request");
		return;
	}
	log_notice("control: uid %u pid %d: %s", c->uid, c->pid, name);

	/* group members may look; only root may act */
	if (c->uid != 0 && type != IMSG_CTL_STATUS &&
	    type != IMSG_CTL_HISTORY) {
		log_warnx("control: uid %u pid %d: %s refused, root only",
		    c->uid, c->pid, name);
		control_result(c, 1, "permission denied: only root may do "
		    "that");
		return;
	}

	switch (type) {
	case IMSG_CTL_STATUS:
		control_status(c, (req.flags & CTL_F_MORE) != 0);
		break;
	case IMSG_CTL_RELOAD:
		if (config_reload(msg, sizeof(msg)) == -1)
			control_result(c, 1, msg);
		else
			control_result(c, 0, msg);
		break;
	case IMSG_CTL_LOG:
	{
		static const char	*levels[] = { "brief", "verbose", "debug" };

		if (req.value < 0 || req.value > 2) {
			control_result(c, 1, "log: brief, verbose or debug");
			break;
		}
		monitor_log_verbose(req.value);
		log_notice("log level %s", levels[req.value]);
		snprintf(msg, sizeof(msg), "logging %s", levels[req.value]);
		control_result(c, 0, msg);
		break;
	}
	case IMSG_CTL_SWITCHOVER: {
		struct switchover_msg	 so;

		memset(&so, 0, sizeof(so));
		c->id = request_id();
		c->waiting = 1;
		so.id = c->id;
		strlcpy(so.target, req.node, sizeof(so.target));
		monitor_compose(PROC_HEARTBEAT, IMSG_SWITCHOVER, &so,
		    sizeof(so));
		break;
	}
	case IMSG_CTL_STANDBY:
	case IMSG_CTL_RESUME: {
		struct maintenance_msg	 mm;

		memset(&mm, 0, sizeof(mm));
		c->id = request_id();
		c->waiting = 1;
		mm.id = c->id;
		mm.enter = type == IMSG_CTL_STANDBY;
		monitor_compose(PROC_HEARTBEAT, IMSG_MAINTENANCE, &mm,
		    sizeof(mm));
		break;
	}
	case IMSG_CTL_SYNC: {
		struct sync_now_msg	 sn;

		memset(&sn, 0, sizeof(sn));
		c->id = request_id();
		c->waiting = 1;
		sn.id = c->id;
		monitor_compose(PROC_SYNC, IMSG_SYNC_NOW, &sn, sizeof(sn));
		break;
	}
	case IMSG_CTL_HISTORY: {
		struct history_msg	 hm;

		if (req.value < 1 || req.value > 100000) {
			control_result(c, 1, "history: -n 1 to 100000");
			break;
		}
		memset(&hm, 0, sizeof(hm));
		c->id = request_id();
		c->waiting = 1;
		c->history = 1;
		hm.id = c->id;
		hm.lines = req.value;
		monitor_compose(PROC_HEARTBEAT, IMSG_HISTORY, &hm, sizeof(hm));
		break;
	}
	default:
		snprintf(msg, sizeof(msg), "%s: not available yet", name);
		control_result(c, 1, msg);
		break;
	}
}

/* The connection waiting for request id, or NULL (it went). */
static struct ctl_conn *
control_waiting(uint32_t id)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->waiting && c->id == id)
			return (c);
	return (NULL);
}

/*
 * The next page of a paused history once the reader has taken most of
 * this one: heartbeatd reads the history at the pace its reader reads.
 */
static void
history_more(struct ctl_conn *c)
{
	struct history_id_msg	 hi;

	if (!c->paused || imsgbuf_queuelen(&c->ibuf) > CONTROL_MAX_QUEUE / 4)
		return;
	c->paused = 0;
	memset(&hi, 0, sizeof(hi));
	hi.id = c->id;
	monitor_compose(PROC_HEARTBEAT, IMSG_HISTORY_MORE, &hi, sizeof(hi));
	control_arm();
}

/* heartbeatd sent a page of history id and waits for the reader. */
void
control_history_pause(uint32_t id)
{
	struct history_id_msg	 hi;
	struct ctl_conn		*c;

	if ((c = control_waiting(id)) == NULL) {
		/* its reader is gone: heartbeatd must not wait for it */
		memset(&hi, 0, sizeof(hi));
		hi.id = id;
		monitor_compose(PROC_HEARTBEAT, IMSG_HISTORY_CANCEL, &hi,
		    sizeof(hi));
		return;
	}
	c->paused = 1;
	c->since = timer_now();		/* 10 s to read some of it */
	(void)imsgbuf_write(&c->ibuf);
	history_more(c);
	control_arm();
}

/* A line of failoverctl history, to the connection that asked. */
void
control_history_line(const struct history_line_msg *hl)
{
	struct ctl_conn	*c;

	if ((c = control_waiting(hl->id)) == NULL)
		return;
	if (imsgbuf_queuelen(&c->ibuf) >= CONTROL_MAX_QUEUE) {
		/* the rest of its history would only pile up here */
		log_warnx("control: uid %u pid %d: history: %d lines left "
		    "unread; closed", c->uid, c->pid, CONTROL_MAX_QUEUE);
		control_close(c);
		return;
	}
	imsg_compose(&c->ibuf, IMSG_HISTORY_LINE, 0, 0, -1, hl, sizeof(*hl));
}

/* The end of a request heartbeatd or syncd served. */
void
control_req_result(const struct req_result_msg *rr)
{
	struct ctl_conn	*c;

	if ((c = control_waiting(rr->id)) == NULL)
		return;
	c->waiting = 0;
	c->paused = 0;
	log_notice("control: uid %u pid %d: %s", c->uid, c->pid,
	    rr->msg[0] ? rr->msg : (rr->code ? "failed" : "done"));
	control_result(c, rr->code, rr->msg);
	if (imsgbuf_write(&c->ibuf) == -1 || imsgbuf_queuelen(&c->ibuf) == 0)
		control_close(c);
}
