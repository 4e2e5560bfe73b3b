/*
 * syncd: replication of the synced directories (failoverd(8), "File replication").
 * It takes its configuration and the directory fds first, then drops to
 * the sync user, confines itself with Landlock to those directories and
 * with seccomp.  Then one loop: the monitor (role, lease seen, control),
 * the listening socket (sessions in, as a standby), the sessions out (as
 * the active node), inotify, and the deadlines of rounds and retries.
 */

#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "syncd.h"
#include "timer.h"

#define INO_MASK	(IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | \
	    IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | \
	    IN_ONLYDIR | IN_DONT_FOLLOW)
#define BACKOFF_MIN	100
#define CTL_TIMEOUT	120000

struct syncd			 sy;
static struct imsgbuf		 ibuf_main;
static int			 conf_state;
static int			 listen_fd = -1;
static int			 ino_fd = -1;
static int			 ino_full;
static char			 last_guard[FAULT_LEN];

static void	 syncd_dispatch(void);
static void	 syncd_loop(void);
static void	 syncd_listen(void);

void
syncd_main(int debug, int verbose)
{
	struct rlimit	 rl;
	int		 fds[MAX_DIRS];
	uint32_t	 i;

	log_init(debug, verbose);
	log_procinit(proc_name(PROC_SYNC));
	/* picks the vectorised ChaCha20, Poly1305 and BLAKE2b: without it
	 * libsodium runs its reference code, several times slower */
	if (sodium_init() == -1)
		fatalx("sodium_init");
	if (imsgbuf_init(&ibuf_main, CHILD_FD) == -1)
		fatal("imsgbuf_init");
	imsgbuf_allow_fdpass(&ibuf_main);
	TAILQ_INIT(&sy.conns);
	sy.epoch = -1;
	sy.seen.epoch = -1;
	sy.attic_epoch = -1;
	sy.last_ok = -1;

	/* the user and the directories come with the configuration */
	while (conf_state != 2)
		syncd_dispatch();

	/* a batch holds a descriptor for each directory it touches */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (sy.ndirs > 0)
		syncd_listen();
	proc_drop(PROC_SYNC, sy.conf.user, NULL, 0);
	for (i = 0; i < sy.ndirs; i++)
		fds[i] = sy.dirs[i].fd;
	sandbox_landlock(fds, sy.ndirs);
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	sandbox_seccomp(PROC_SYNC);
	imsg_compose(&ibuf_main, IMSG_READY, 0, 0, -1, NULL, 0);
	sy.status_dirty = 1;
	syncd_loop();
}

int64_t
unix_now(void)
{
	return ((int64_t)time(NULL));
}

/* Holding the lease: active, or handing over without being forced. */
int
syncd_active(void)
{
	return (sy.role == ROLE_ACTIVE ||
	    (sy.role == ROLE_DEMOTING && !sy.forced));
}

static void
syncd_listen(void)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 buf[ADDR_STRLEN];
	int			 one = 1;

	memset(&ss, 0, sizeof(ss));
	if (sy.conf.listen.af == AF_INET6) {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = sy.conf.listen.a.v6;
		s6->sin6_port = htons(sy.conf.port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = sy.conf.listen.a.v4;
		s4->sin_port = htons(sy.conf.port);
		len = sizeof(*s4);
	}
	if ((listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(listen_fd, 16) == -1)
		fatal("listen on %s port %u", addr_str(&sy.conf.listen, buf,
		    sizeof(buf)), sy.conf.port);
	log_info("listening on %s port %u", addr_str(&sy.conf.listen, buf,
	    sizeof(buf)), sy.conf.port);
}

/* Messages of the monitor that came meanwhile: the fence asks first. */
void
syncd_poll_monitor(void)
{
	struct pollfd	 pfd;

	pfd.fd = ibuf_main.fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) == 1)
		syncd_dispatch();
}

void
syncd_status_changed(void)
{
	sy.status_dirty = 1;
}

static void
send_status(void)
{
	struct sync_status_msg	 st;
	int			 i;

	memset(&st, 0, sizeof(st));
	st.last_ok = sy.last_ok;
	st.files = sy.files;
	st.bytes = sy.bytes;
	strlcpy(st.last_error, sy.last_error, sizeof(st.last_error));
	for (i = 0; i < sy.npeers; i++) {
		strlcpy(st.peer[i].node, sy.peers[i].c.name,
		    sizeof(st.peer[i].node));
		strlcpy(st.peer[i].state, syncd_active() ? sy.peers[i].state :
		    "standby", sizeof(st.peer[i].state));
		st.peer[i].last_ok = sy.peers[i].last_ok;
		strlcpy(st.peer[i].error, sy.peers[i].error,
		    sizeof(st.peer[i].error));
	}
	st.npeers = sy.npeers;
	imsg_compose(&ibuf_main, IMSG_SYNC_STATUS, 0, 0, -1, &st, sizeof(st));
	sy.status_dirty = 0;
}

static void
send_alert(const char *name, const char *detail)
{
	struct sync_alert_msg	 am;

	memset(&am, 0, sizeof(am));
	strlcpy(am.name, name, sizeof(am.name));
	strlcpy(am.detail, detail, sizeof(am.detail));
	imsg_compose(&ibuf_main, IMSG_SYNC_ALERT, 0, 0, -1, &am, sizeof(am));
}

void
syncd_peer_failed(struct speer *sp, const char *why)
{
	uint64_t	 now = now_ms();

	strlcpy(sp->error, why, sizeof(sp->error));
	strlcpy(sp->state, sp->reached ? "failed" : "down",
	    sizeof(sp->state));
	strlcpy(sy.last_error, why, sizeof(sy.last_error));
	if (sp->bad_since == 0)
		sp->bad_since = now;
	sp->next_try = now + sp->backoff;
	sp->backoff = sp->backoff * 2 > sy.conf.delay ? sy.conf.delay :
	    sp->backoff * 2;
	if (sp->backoff < BACKOFF_MIN)
		sp->backoff = BACKOFF_MIN;
	sy.status_dirty = 1;
}

void
syncd_peer_ok(struct speer *sp)
{
	int	 i;

	sp->error[0] = '\0';
	strlcpy(sp->state, "ok", sizeof(sp->state));
	sp->bad_since = 0;
	sp->alerted = 0;
	sp->backoff = BACKOFF_MIN;
	sp->last_ok = sy.last_ok = unix_now();
	last_guard[0] = '\0';
	for (i = 0; i < sy.npeers; i++)
		if (sy.peers[i].error[0] != '\0')
			break;
	if (i == sy.npeers)
		sy.last_error[0] = '\0';
	sy.status_dirty = 1;
}

/* A guard (failoverd(8), "File replication") stopped a round: alert at once. */
void
syncd_guard_failed(const char *why)
{
	strlcpy(sy.last_error, why, sizeof(sy.last_error));
	sy.status_dirty = 1;
	if (strcmp(last_guard, why) == 0)
		return;
	strlcpy(last_guard, why, sizeof(last_guard));
	log_warnx("round stopped: %s", why);
	send_alert("sync-failed", why);
}

void
syncd_round_wanted(uint64_t in)
{
	uint64_t	 at = now_ms() + in;

	if (!sy.want_round || at < sy.round_at)
		sy.round_at = at;
	sy.want_round = 1;
}

/* The answer to failoverctl sync (id), or to IMSG_SYNC_FINAL (final). */
static void
ctl_reply(uint32_t id, int final, int code, const char *text)
{
	struct hist_msg	 hm;
	struct ok_msg	 o;

	if (final) {
		memset(&o, 0, sizeof(o));
		o.ok = code == 0;
		strlcpy(o.reason, text, sizeof(o.reason));
		imsg_compose(&ibuf_main, IMSG_SYNC_FINAL, 0, 0, -1, &o,
		    sizeof(o));
		return;
	}
	memset(&hm, 0, sizeof(hm));
	hm.id = id;
	hm.n = code;
	strlcpy(hm.line, text, sizeof(hm.line));
	imsg_compose(&ibuf_main, IMSG_REQ_RESULT, 0, 0, -1, &hm, sizeof(hm));
}

void
syncd_ctl_peer_done(struct speer *sp, int ok, const char *why)
{
	size_t	 len;

	if (!sp->ctl_wait)
		return;
	sp->ctl_wait = 0;
	if (ok)
		return;
	sy.ctl_failed = 1;
	len = strlen(sy.ctl_msg);
	snprintf(sy.ctl_msg + len, sizeof(sy.ctl_msg) - len, "%s%s: %s",
	    len ? "; " : "", sp->c.name, why);
}

static void
ctl_check(uint64_t now)
{
	char	 text[CTL_MSG_LEN];
	int	 i, waiting = 0;

	if (sy.ctl_id == 0 && !sy.ctl_final)
		return;
	for (i = 0; i < sy.npeers; i++)
		if (sy.peers[i].ctl_wait) {
			if (now >= sy.ctl_deadline)
				syncd_ctl_peer_done(&sy.peers[i], 0,
				    "timed out");
			else
				waiting = 1;
		}
	if (waiting)
		return;
	if (sy.ctl_failed)
		snprintf(text, sizeof(text), "sync: %s", sy.ctl_msg);
	else
		snprintf(text, sizeof(text), "sync: done, %d peer%s up to "
		    "date", sy.npeers, sy.npeers == 1 ? "" : "s");
	ctl_reply(sy.ctl_id, sy.ctl_final, sy.ctl_failed, text);
	sy.ctl_id = 0;
	sy.ctl_final = 0;
}

static void
ctl_sync(uint32_t id, int final, int32_t ms)
{
	struct speer	*sp;
	int		 i;

	if (sy.ndirs == 0) {
		ctl_reply(id, final, 1, "sync: no sync block in the "
		    "configuration");
		return;
	}
	if (!syncd_active()) {
		ctl_reply(id, final, 1, "sync: this node is not active; the "
		    "active node sends");
		return;
	}
	if (sy.ctl_id != 0 || sy.ctl_final) {
		ctl_reply(id, final, 1, "sync: a forced round is running "
		    "already");
		return;
	}
	sy.ctl_id = id;
	sy.ctl_final = final;
	sy.ctl_snap = sy.snap_seq + 1;
	sy.ctl_deadline = now_ms() + (ms > 0 ? (uint64_t)ms : CTL_TIMEOUT);
	sy.ctl_failed = 0;
	sy.ctl_msg[0] = '\0';
	for (i = 0; i < sy.npeers; i++) {
		sp = &sy.peers[i];
		sp->ctl_wait = 1;
		if (sp->conn == NULL)
			syncd_ctl_peer_done(sp, 0, sp->error[0] ? sp->error :
			    "not connected");
	}
	syncd_round_wanted(0);
	ctl_check(now_ms());
}

void
snap_unref(struct snap *s)
{
	uint32_t	 d;

	if (s == NULL || --s->refs > 0)
		return;
	for (d = 0; d < sy.ndirs; d++)
		scan_manifest_free(&s->m[d]);
	free(s);
}

static void
ino_watch(const struct snap *s)
{
	uint32_t	 d;
	size_t		 i;

	if (ino_fd == -1)
		return;
	for (d = 0; d < sy.ndirs; d++) {
		/* watches by relative path from the directory fd */
		if (fchdir(sy.dirs[d].fd) == -1)
			continue;
		for (i = 0; i <= s->m[d].n; i++) {
			if (i < s->m[d].n && s->m[d].e[i].type != SCAN_DIR)
				continue;
			if (inotify_add_watch(ino_fd, i < s->m[d].n ?
			    s->m[d].e[i].path : ".", INO_MASK) == -1 &&
			    errno == ENOSPC && !ino_full) {
				ino_full = 1;
				log_warnx("inotify: no more watches "
				    "(fs.inotify.max_user_watches); changes "
				    "are found by the rescan every %u ms",
				    sy.conf.interval);
			}
		}
	}
}

static void
ino_read(void)
{
	union {
		struct inotify_event	 e;
		char			 b[8192];
	}		 u;
	ssize_t		 n;
	int		 any = 0;

	while ((n = read(ino_fd, u.b, sizeof(u.b))) > 0)
		any = 1;
	if (any && syncd_active())
		syncd_round_wanted(sy.conf.delay / 4);
}

/* The local tree now: every directory scanned, the guards checked. */
static struct snap *
snap_take(void)
{
	struct scan_stats	 st;
	struct stat		 sb;
	struct snap		*s;
	char			 why[PATH_LEN + 128];
	uint32_t		 d;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->refs = 1;
	s->id = ++sy.snap_seq;
	for (d = 0; d < sy.ndirs; d++) {
		if (fstat(sy.dirs[d].fd, &sb) == -1 ||
		    sb.st_dev != sy.dirs[d].dev) {
			snprintf(why, sizeof(why), "%s: not on the filesystem "
			    "it was on at start", sy.dirs[d].path);
			goto fail;
		}
		/* new files are hashed while they are sent */
		scan_cache_lazy(sy.dirs[d].cache, 1);
		if (scan_dir(sy.dirs[d].fd, sy.dirs[d].ex, sy.dirs[d].cache,
		    &s->m[d], &st) == -1) {
			snprintf(why, sizeof(why), "scan of %s: %s",
			    sy.dirs[d].path, strerror(errno));
			goto fail;
		}
		log_debug("scan of %s: %zu entries, %llu files hashed",
		    sy.dirs[d].path, s->m[d].n,
		    (unsigned long long)st.hashed_files);
	}
	ino_watch(s);
	return (s);
fail:
	syncd_guard_failed(why);
	for (d = 0; d < (uint32_t)sy.npeers; d++)
		if (sy.peers[d].conn != NULL)
			syncd_peer_failed(&sy.peers[d], why);
	sy.snap_seq--;
	snap_unref(s);
	return (NULL);
}

static void
round_start(void)
{
	struct conn	*c;
	struct snap	*s;
	int		 ready = 0;

	TAILQ_FOREACH(c, &sy.conns, entry)
		if (c->sender && !c->dead && c->state == C_READY)
			ready = 1;
		else if (c->sender && !c->dead && (c->state == C_ROUND ||
		    c->state == C_DONE))
			c->again = 1;
	sy.want_round = 0;
	if (!ready)
		return;
	if ((s = snap_take()) == NULL)
		return;
	snap_unref(sy.snap);
	sy.snap = s;
	TAILQ_FOREACH(c, &sy.conns, entry)
		if (c->sender && !c->dead && c->state == C_READY)
			send_round(c, s);
}

/* What the role asks for: sessions out and inotify only when active. */
static void
role_apply(uint64_t now)
{
	struct conn	*c;
	int		 i;

	if (!syncd_active() || sy.ndirs == 0) {
		TAILQ_FOREACH(c, &sy.conns, entry)
			if (c->sender && !c->dead) {
				if (c->state == C_READY)
					conn_end(c);
				else if (c->state != C_CLOSING)
					conn_close(c, NULL);
			}
		if (ino_fd != -1) {
			close(ino_fd);
			ino_fd = -1;
		}
		if (sy.ctl_id != 0 || sy.ctl_final)
			for (i = 0; i < sy.npeers; i++)
				syncd_ctl_peer_done(&sy.peers[i], 0,
				    "this node is no longer active");
		return;
	}
	if (ino_fd == -1) {
		if ((ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
			log_warn("inotify_init1");
		ino_full = 0;
		syncd_round_wanted(0);
		sy.next_scan = now + sy.conf.interval;
	}
	for (i = 0; i < sy.npeers; i++) {
		struct speer	*sp = &sy.peers[i];

		if (sp->conn == NULL && now >= sp->next_try)
			conn_connect(sp);
		/* unreachable or failing for long: an alert, once */
		if (sp->bad_since != 0 && !sp->alerted &&
		    now - sp->bad_since >= sy.conf.alert_after) {
			char	 d[256];

			sp->alerted = 1;
			snprintf(d, sizeof(d), "peer %s (%s) for %llu s: %s",
			    sp->c.name, sp->addr, (unsigned long long)
			    (now - sp->bad_since) / 1000, sp->error);
			send_alert(sp->reached ? "sync-failed" : "peer-down",
			    d);
		}
	}
	if (now >= sy.next_scan) {
		syncd_round_wanted(0);
		sy.next_scan = now + sy.conf.interval;
	}
	TAILQ_FOREACH(c, &sy.conns, entry)
		if (c->sender && !c->dead && c->state == C_READY &&
		    now - c->opened >= REKEY_MS) {
			/* a new handshake every hour */
			log_info("peer %s: new session (hourly rekey)",
			    c->node);
			conn_end(c);
			c->sp->next_try = now;
		}
	if (sy.want_round && now >= sy.round_at)
		round_start();
}

static void
housekeeping(void)
{
	struct conn	*c, *next;
	uint64_t	 now = now_ms();

	role_apply(now);
	for (c = TAILQ_FIRST(&sy.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!c->dead && c->state <= C_OPENING &&
		    now - c->opened >= OPEN_TIMEOUT_MS)
			conn_close(c, "no session within 10 s");
		recv_check_fence(c);
		if (c->dead)
			conn_free(c);
	}
	ctl_check(now);
	if (sy.status_dirty)
		send_status();
}

static int
next_timeout(void)
{
	uint64_t	 now = now_ms(), due = now + 1000;
	int		 i;

	if (sy.want_round && sy.round_at < due)
		due = sy.round_at;
	if (syncd_active())
		for (i = 0; i < sy.npeers; i++)
			if (sy.peers[i].conn == NULL &&
			    sy.peers[i].next_try < due)
				due = sy.peers[i].next_try;
	return (due > now ? (int)(due - now) : 0);
}

static void
syncd_loop(void)
{
	struct pollfd	*pfd = NULL;
	struct conn	*c, **pc = NULL;
	size_t		 cap = 0, n, i, nc;

	for (;;) {
		housekeeping();
		nc = 0;
		TAILQ_FOREACH(c, &sy.conns, entry)
			nc++;
		if (nc + 3 > cap) {
			cap = nc + 16;
			if ((pfd = reallocarray(pfd, cap, sizeof(*pfd))) ==
			    NULL || (pc = reallocarray(pc, cap,
			    sizeof(*pc))) == NULL)
				fatal("reallocarray");
		}
		n = 0;
		pfd[n].fd = ibuf_main.fd;
		pfd[n].events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_main) > 0)
			pfd[n].events |= POLLOUT;
		n++;
		pfd[n].fd = listen_fd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = ino_fd;
		pfd[n++].events = POLLIN;
		TAILQ_FOREACH(c, &sy.conns, entry) {
			pc[n] = c;
			pfd[n].fd = c->fd;
			pfd[n++].events = conn_pollmask(c);
		}
		if (poll(pfd, n, next_timeout()) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLOUT)
			proc_write(&ibuf_main);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			syncd_dispatch();
		if (pfd[1].revents & POLLIN)
			while ((c = conn_accept(listen_fd)) != NULL)
				;
		if (pfd[2].revents & POLLIN)
			ino_read();
		for (i = 3; i < n; i++)
			if (pfd[i].revents != 0 || (pc[i]->state != C_CONNECT &&
			    pfd[i].events & POLLOUT))
				conn_events(pc[i], pfd[i].revents);
	}
}

static void
syncd_dispatch(void)
{
	struct imsg		 imsg;
	struct conf_dir_msg	 dm;
	struct conf_peer	 cp;
	struct role_msg		 rm;
	struct hist_msg		 hm;
	struct sync_final_msg	 sf;
	struct sync_dir		*d;
	struct speer		*sp;
	struct stat		 sb;
	ssize_t			 n;
	int			 v, k;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_CONF_SYNC:
			if (conf_state != 0 || imsg_get_data(&imsg, &sy.conf,
			    sizeof(sy.conf)) == -1 || sy.conf.ndirs > MAX_DIRS ||
			    (sy.conf.ndirs > 0 && (sy.conf.delay == 0 ||
			    sy.conf.interval == 0)))
				fatalx("bad IMSG_CONF_SYNC");
			sy.conf.node[NAME_LEN - 1] = '\0';
			sy.conf.cluster[NAME_LEN - 1] = '\0';
			sy.conf.user[NAME_LEN - 1] = '\0';
			conf_state = 1;
			break;
		case IMSG_CONF_PEER:
			if (conf_state != 1 || sy.npeers >= MAX_SYNC_PEERS ||
			    imsg_get_data(&imsg, &cp, sizeof(cp)) == -1 ||
			    cp.npubkeys < 1 || cp.npubkeys > MAX_PUBKEYS)
				fatalx("bad IMSG_CONF_PEER");
			cp.name[NAME_LEN - 1] = '\0';
			if (strcmp(cp.name, sy.conf.node) == 0)
				break;
			sp = &sy.peers[sy.npeers];
			sp->c = cp;
			sp->port = cp.port ? cp.port : sy.conf.port;
			addr_str(&cp.addr, sp->addr, sizeof(sp->addr));
			sp->backoff = BACKOFF_MIN;
			sp->last_ok = -1;
			strlcpy(sp->state, "idle", sizeof(sp->state));
			strlcpy(sp->sp.name, cp.name, sizeof(sp->sp.name));
			sp->sp.npub = cp.npubkeys;
			for (k = 0; k < cp.npubkeys; k++)
				memcpy(sp->sp.pub[k], cp.pubkey[k], KEY_LEN);
			sy.speers[sy.npeers] = sp->sp;
			sy.npeers++;
			break;
		case IMSG_CONF_DIR:
			if (conf_state != 1 || imsg_get_data(&imsg, &dm,
			    sizeof(dm)) == -1 || dm.index != sy.ndirs ||
			    sy.ndirs >= sy.conf.ndirs)
				fatalx("bad IMSG_CONF_DIR");
			d = &sy.dirs[sy.ndirs];
			if ((d->fd = imsg_get_fd(&imsg)) == -1)
				fatalx("IMSG_CONF_DIR without a descriptor");
			if (fstat(d->fd, &sb) == -1)
				fatal("fstat %s", dm.path);
			d->dev = sb.st_dev;
			dm.path[PATH_LEN - 1] = '\0';
			strlcpy(d->path, dm.path, PATH_LEN);
			if ((d->cache = scan_cache_new()) == NULL)
				fatal("scan_cache_new");
			/* only syncd writes them: one left is from a crash */
			scan_cache_clean_temps(d->cache, 1);
			sy.ndirs++;
			break;
		case IMSG_CONF_EXCLUDE:
			if (conf_state != 1 || imsg_get_data(&imsg, &dm,
			    sizeof(dm)) == -1 || sy.ndirs == 0 ||
			    dm.index != sy.ndirs - 1)
				fatalx("bad IMSG_CONF_EXCLUDE");
			d = &sy.dirs[sy.ndirs - 1];
			if (d->nex >= MAX_EXCLUDES)
				fatalx("more than %d exclude patterns",
				    MAX_EXCLUDES);
			dm.path[PATH_LEN - 1] = '\0';
			if ((d->ex[d->nex++] = strdup(dm.path)) == NULL)
				fatal("strdup");
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || sy.ndirs != sy.conf.ndirs ||
			    imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			conf_state = 2;
			log_debug("configuration: %u directories, %d peers",
			    sy.ndirs, sy.npeers);
			break;
		case IMSG_ROLE:
			if (conf_state != 2 || imsg_get_data(&imsg, &rm,
			    sizeof(rm)) == -1 || rm.role >= ROLE_MAX)
				fatalx("bad IMSG_ROLE");
			if (rm.role == ROLE_ACTIVE && sy.role != ROLE_ACTIVE)
				log_info("active at epoch %lld: sending",
				    (long long)rm.epoch);
			else if (rm.role != ROLE_ACTIVE &&
			    sy.role == ROLE_ACTIVE)
				log_info("no longer active: receiving");
			sy.role = rm.role;
			sy.forced = rm.forced;
			if (rm.role == ROLE_ACTIVE)
				sy.epoch = rm.epoch;
			sy.status_dirty = 1;
			break;
		case IMSG_LEASE_SEEN:
			if (conf_state != 2 || imsg_get_data(&imsg, &sy.seen,
			    sizeof(sy.seen)) == -1)
				fatalx("bad IMSG_LEASE_SEEN");
			sy.seen.holder[NAME_LEN - 1] = '\0';
			if (sy.seen.epoch < -1)
				fatalx("bad epoch in IMSG_LEASE_SEEN");
			break;
		case IMSG_SYNC_NOW:
			if (conf_state != 2 || imsg_get_data(&imsg, &hm,
			    sizeof(hm)) == -1)
				fatalx("bad IMSG_SYNC_NOW");
			if (hm.id == 0)
				fatalx("bad IMSG_SYNC_NOW: no request id");
			ctl_sync(hm.id, 0, hm.n);
			break;
		case IMSG_SYNC_FINAL:
			if (conf_state != 2 || imsg_get_data(&imsg, &sf,
			    sizeof(sf)) == -1 || sf.timeout == 0 ||
			    sf.timeout > INT32_MAX)
				fatalx("bad IMSG_SYNC_FINAL");
			ctl_sync(0, 1, sf.timeout);
			break;
		case IMSG_LOG_VERBOSE:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				fatalx("bad IMSG_LOG_VERBOSE");
			log_setverbose(v);
			break;
		default:
			fatalx("unexpected message %u", imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
}
