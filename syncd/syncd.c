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

struct syncd			 syncd;
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
	TAILQ_INIT(&syncd.conns);
	syncd.epoch = -1;
	syncd.seen.epoch = -1;
	syncd.attic_done = -1;
	syncd.last_ok = -1;

	/* the user and the directories come with the configuration */
	while (conf_state != 2)
		syncd_dispatch();

	/* a batch holds a descriptor for each directory it touches */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (syncd.ndirs > 0)
		syncd_listen();
	proc_drop(PROC_SYNC, syncd.conf.user, NULL, 0);
	for (i = 0; i < syncd.ndirs; i++)
		fds[i] = syncd.dirs[i].fd;
	apply_init();
	sandbox_landlock(fds, syncd.ndirs);
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	sandbox_seccomp(PROC_SYNC);
	imsg_compose(&ibuf_main, IMSG_READY, 0, 0, -1, NULL, 0);
	syncd.status_dirty = 1;
	syncd_loop();
}

/* Holding the lease: active, or handing over without being forced. */
int
syncd_active(void)
{
	return (syncd.role == ROLE_ACTIVE ||
	    (syncd.role == ROLE_DEMOTING && !syncd.forced));
}

static void
syncd_listen(void)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 buf[ADDR_STRLEN];
	int			 one = 1;

	memset(&ss, 0, sizeof(ss));
	if (syncd.conf.listen.af == AF_INET6) {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = syncd.conf.listen.a.v6;
		s6->sin6_port = htons(syncd.conf.port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = syncd.conf.listen.a.v4;
		s4->sin_port = htons(syncd.conf.port);
		len = sizeof(*s4);
	}
	if ((listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(listen_fd, 16) == -1)
		fatal("listen on %s port %u", addr_str(&syncd.conf.listen, buf,
		    sizeof(buf)), syncd.conf.port);
	log_info("listening on %s port %u", addr_str(&syncd.conf.listen, buf,
	    sizeof(buf)), syncd.conf.port);
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
	syncd.status_dirty = 1;
}

static void
send_status(void)
{
	struct sync_status_msg	 st;
	int			 i;

	memset(&st, 0, sizeof(st));
	st.last_ok = syncd.last_ok;
	st.files = syncd.files;
	st.bytes = syncd.bytes;
	strlcpy(st.last_error, syncd.last_error, sizeof(st.last_error));
	for (i = 0; i < syncd.npeers; i++) {
		strlcpy(st.peer[i].node, syncd.peers[i].c.name,
		    sizeof(st.peer[i].node));
		strlcpy(st.peer[i].state, syncd_active()
		    ? syncd.peers[i].state :
		    "standby", sizeof(st.peer[i].state));
		st.peer[i].last_ok = syncd.peers[i].last_ok;
		strlcpy(st.peer[i].error, syncd.peers[i].error,
		    sizeof(st.peer[i].error));
	}
	st.npeers = syncd.npeers;
	st.nattics = syncd.nattics;
	st.skipped = syncd.skipped;
	memcpy(st.attic, syncd.attics, sizeof(st.attic));
	imsg_compose(&ibuf_main, IMSG_SYNC_STATUS, 0, 0, -1, &st, sizeof(st));
	syncd.status_dirty = 0;
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
	uint64_t	 now = timer_now();

	strlcpy(sp->error, why, sizeof(sp->error));
	strlcpy(sp->state, sp->reached ? "failed" : "down",
	    sizeof(sp->state));
	strlcpy(syncd.last_error, why, sizeof(syncd.last_error));
	if (sp->bad_since == 0)
		sp->bad_since = now;
	sp->next_try = now + sp->backoff;
	sp->backoff = sp->backoff * 2 > syncd.conf.delay ? syncd.conf.delay :
	    sp->backoff * 2;
	if (sp->backoff < BACKOFF_MIN)
		sp->backoff = BACKOFF_MIN;
	syncd.status_dirty = 1;
}

void
syncd_peer_ok(struct speer *sp)
{
	int	 i;

	/* the recovery of what was alerted */
	if (sp->alerted || last_guard[0] != '\0') {
		char	 d[256];

		snprintf(d, sizeof(d), "peer %s (%s): a round completed",
		    sp->c.name, sp->addr);
		send_alert(sp->alerted == 2 ? "peer-up" : "sync-ok", d);
	}
	sp->error[0] = '\0';
	strlcpy(sp->state, "ok", sizeof(sp->state));
	sp->bad_since = 0;
	sp->alerted = 0;
	sp->backoff = BACKOFF_MIN;
	sp->last_ok = syncd.last_ok = (int64_t)time(NULL);
	last_guard[0] = '\0';
	for (i = 0; i < syncd.npeers; i++)
		if (syncd.peers[i].error[0] != '\0')
			break;
	if (i == syncd.npeers)
		syncd.last_error[0] = '\0';
	syncd.status_dirty = 1;
}

/* A guard (failoverd(8), "File replication") stopped a round: alert at once. */
void
syncd_guard_failed(const char *why)
{
	strlcpy(syncd.last_error, why, sizeof(syncd.last_error));
	syncd.status_dirty = 1;
	if (strcmp(last_guard, why) == 0)
		return;
	strlcpy(last_guard, why, sizeof(last_guard));
	log_warnx("round stopped: %s", why);
	send_alert("sync-failed", why);
}

/*
 * The attics of every directory, newest first, summed by epoch; made
 * is the epoch whose first round just kept n entries (0: a census at
 * start), and then those past "attic keep" go and the alert is raised.
 */
void
syncd_attics(int64_t made, uint64_t n)
{
	struct apply_attic	 a[MAX_ATTICS];
	char			 why[FAULT_LEN + PATH_LEN];
	uint32_t		 d, k;
	int			 na, i;

	syncd.nattics = 0;
	for (d = 0; d < syncd.ndirs; d++) {
		if ((na = apply_attic_list(syncd.dirs[d].fd, made > 0 ?
		    syncd.conf.attic_keep : 0, a, MAX_ATTICS)) == -1) {
			snprintf(why, sizeof(why), "%s/%s: %s",
			    syncd.dirs[d].path, ATTIC_DIR, strerror(errno));
			log_warnx("attic: %s", why);
			continue;
		}
		for (i = 0; i < na; i++) {
			for (k = 0; k < syncd.nattics; k++)
				if (syncd.attics[k].epoch == a[i].epoch)
					break;
			if (k == syncd.nattics) {
				if (k == MAX_ATTICS)
					continue;
				syncd.attics[k].epoch = a[i].epoch;
				syncd.attics[k].files = 0;
				syncd.nattics++;
			}
			syncd.attics[k].files += a[i].files;
		}
	}
	/* newest first, across the directories too */
	for (k = 1; k < syncd.nattics; k++)
		for (d = k; d > 0 && syncd.attics[d - 1].epoch <
		    syncd.attics[d].epoch; d--) {
			struct sync_attic_status	 t = syncd.attics[d];

			syncd.attics[d] = syncd.attics[d - 1];
			syncd.attics[d - 1] = t;
		}
	syncd.status_dirty = 1;
	if (made > 0 && n > 0) {
		snprintf(why, sizeof(why), "the first round of epoch %lld kept "
		    "%llu replaced or deleted entries in %s/%lld",
		    (long long)made, (unsigned long long)n, ATTIC_DIR,
		    (long long)made);
		log_notice("%s", why);
		send_alert("attic", why);
	}
}

void
syncd_round_wanted(uint64_t in)
{
	uint64_t	 at = timer_now() + in;

	if (!syncd.want_round || at < syncd.round_at)
		syncd.round_at = at;
	syncd.want_round = 1;
}

/* The answer to failoverctl sync (id), or to IMSG_SYNC_FINAL (final). */
static void
ctl_reply(uint32_t id, int final, int code, const char *text)
{
	struct req_result_msg		 hm;
	struct sync_final_done_msg	 o;

	if (final) {
		memset(&o, 0, sizeof(o));
		o.ok = code == 0;
		strlcpy(o.reason, text, sizeof(o.reason));
		imsg_compose(&ibuf_main, IMSG_SYNC_FINAL_DONE, 0, 0, -1, &o,
		    sizeof(o));
		return;
	}
	memset(&hm, 0, sizeof(hm));
	hm.id = id;
	hm.code = code;
	strlcpy(hm.msg, text, sizeof(hm.msg));
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
	syncd.ctl_failed = 1;
	len = strlen(syncd.ctl_msg);
	snprintf(syncd.ctl_msg + len, sizeof(syncd.ctl_msg) - len, "%s%s: %s",
	    len ? "; " : "", sp->c.name, why);
}

static void
ctl_check(uint64_t now)
{
	char	 text[CTL_MSG_LEN];
	int	 i, waiting = 0;

	if (syncd.ctl_id == 0 && !syncd.ctl_final)
		return;
	for (i = 0; i < syncd.npeers; i++)
		if (syncd.peers[i].ctl_wait) {
			if (now >= syncd.ctl_deadline)
				syncd_ctl_peer_done(&syncd.peers[i], 0,
				    "timed out");
			else
				waiting = 1;
		}
	if (waiting)
		return;
	if (syncd.ctl_failed)
		snprintf(text, sizeof(text), "sync: %s", syncd.ctl_msg);
	else
		snprintf(text, sizeof(text), "sync: done, %d peer%s up to "
		    "date", syncd.npeers, syncd.npeers == 1 ? "" : "s");
	ctl_reply(syncd.ctl_id, syncd.ctl_final, syncd.ctl_failed, text);
	syncd.ctl_id = 0;
	syncd.ctl_final = 0;
}

static void
ctl_sync(uint32_t id, int final, int32_t ms)
{
	struct speer	*sp;
	int		 i;

	if (syncd.ndirs == 0) {
		ctl_reply(id, final, 1, "sync: no sync block in the "
		    "configuration");
		return;
	}
	if (!syncd_active()) {
		ctl_reply(id, final, 1, "sync: this node is not active; the "
		    "active node sends");
		return;
	}
	if (syncd.ctl_id != 0 || syncd.ctl_final) {
		ctl_reply(id, final, 1, "sync: a forced round is running "
		    "already");
		return;
	}
	syncd.ctl_id = id;
	syncd.ctl_final = final;
	syncd.ctl_snap = syncd.snap_seq + 1;
	syncd.ctl_deadline = timer_now() +
	    (ms > 0 ? (uint64_t)ms : CTL_TIMEOUT);
	syncd.ctl_failed = 0;
	syncd.ctl_msg[0] = '\0';
	for (i = 0; i < syncd.npeers; i++) {
		sp = &syncd.peers[i];
		sp->ctl_wait = 1;
		if (sp->conn == NULL)
			syncd_ctl_peer_done(sp, 0, sp->error[0] ? sp->error :
			    "not connected");
	}
	syncd_round_wanted(0);
	ctl_check(timer_now());
}

void
syncd_snap_unref(struct snap *s)
{
	uint32_t	 d;

	if (s == NULL || --s->refs > 0)
		return;
	for (d = 0; d < syncd.ndirs; d++)
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
	for (d = 0; d < syncd.ndirs; d++) {
		/* watches by relative path from the directory fd */
		if (fchdir(syncd.dirs[d].fd) == -1)
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
				    syncd.conf.interval);
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
		syncd_round_wanted(syncd.conf.delay / 4);
}

/*
 * What a scan skips (neither file, directory nor symlink) is said, one
 * line a path, the first SKIP_LOG of them, in the scans that say: the
 * first of an active period, then one every interval (not the scans a
 * busy tree's changes bring, a second apart), and a receiver's at the
 * opening of each session.  Status counts them at every scan.
 */
#define SKIP_LOG	10

static void
scan_skipped(const char *path, mode_t mode, void *arg)
{
	const struct sync_dir	*d = arg;

	if (syncd.skipping++ >= SKIP_LOG || !syncd.scan_say)
		return;
	log_warnx("%s/%s: not synced: %s", d->path, path,
	    S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" :
	    S_ISCHR(mode) ? "a character device" :
	    S_ISBLK(mode) ? "a block device" : "not a file, directory or "
	    "symlink");
}

void
syncd_scan_begin(int say)
{
	syncd.skipping = 0;
	if (say)
		syncd.scan_say = 1;
	/* a scan hashes what it does not know: the watchdog waits */
	proc_busy(&ibuf_main, 1);
}

void
syncd_scan_end(void)
{
	proc_busy(&ibuf_main, 0);
	if (syncd.skipping > SKIP_LOG && syncd.scan_say)
		log_warnx("%llu more paths not synced in this scan (not a "
		    "file, directory or symlink)",
		    (unsigned long long)(syncd.skipping - SKIP_LOG));
	if (syncd.skipped != syncd.skipping)
		syncd.status_dirty = 1;
	syncd.skipped = syncd.skipping;
	syncd.scan_say = 0;
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
	int			 rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->refs = 1;
	s->id = ++syncd.snap_seq;
	syncd_scan_begin(0);
	for (d = 0; d < syncd.ndirs; d++) {
		if (fstat(syncd.dirs[d].fd, &sb) == -1 ||
		    sb.st_dev != syncd.dirs[d].dev) {
			snprintf(why, sizeof(why), "%s: not on the filesystem "
			    "it was on at start", syncd.dirs[d].path);
			goto fail;
		}
		/* new files are hashed while they are sent; the others'
		 * hashes come from the last snapshot, which is kept anyway */
		scan_cache_lazy(syncd.dirs[d].cache, 1);
		scan_cache_by_path(syncd.dirs[d].cache,
		    syncd.snap != NULL ? &syncd.snap->m[d] : NULL);
		rc = scan_dir(syncd.dirs[d].fd, syncd.dirs[d].ex,
		    syncd.dirs[d].cache, &s->m[d], &st);
		/* the last snapshot may go before the next scan */
		scan_cache_by_path(syncd.dirs[d].cache, NULL);
		if (rc == -1) {
			snprintf(why, sizeof(why), "scan of %s: %s",
			    syncd.dirs[d].path, strerror(errno));
			goto fail;
		}
		log_debug("scan of %s: %zu entries, %llu files hashed",
		    syncd.dirs[d].path, s->m[d].n,
		    (unsigned long long)st.hashed_files);
	}
	syncd_scan_end();
	/* the sender's hashes are in this snapshot from now on */
	for (d = 0; d < syncd.ndirs; d++)
		scan_cache_forget(syncd.dirs[d].cache);
	ino_watch(s);
	return (s);
fail:
	syncd_scan_end();
	syncd_guard_failed(why);
	for (d = 0; d < (uint32_t)syncd.npeers; d++)
		if (syncd.peers[d].conn != NULL)
			syncd_peer_failed(&syncd.peers[d], why);
	syncd.snap_seq--;
	syncd_snap_unref(s);
	return (NULL);
}

static void
round_start(void)
{
	struct conn	*c;
	struct snap	*s;
	int		 ready = 0;

	TAILQ_FOREACH(c, &syncd.conns, entry)
		if (c->sender && !c->dead && c->state == C_READY)
			ready = 1;
		else if (c->sender && !c->dead && (c->state == C_ROUND ||
		    c->state == C_DONE))
			c->again = 1;
	syncd.want_round = 0;
	if (!ready)
		return;
	if ((s = snap_take()) == NULL)
		return;
	syncd_snap_unref(syncd.snap);
	syncd.snap = s;
	TAILQ_FOREACH(c, &syncd.conns, entry)
		if (c->sender && !c->dead && c->state == C_READY)
			send_round(c, s);
}

/* What the role asks for: sessions out and inotify only when active. */
static void
role_apply(uint64_t now)
{
	struct conn	*c;
	int		 i;

	if (!syncd_active() || syncd.ndirs == 0) {
		TAILQ_FOREACH(c, &syncd.conns, entry)
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
		if (syncd.ctl_id != 0 || syncd.ctl_final)
			for (i = 0; i < syncd.npeers; i++)
				syncd_ctl_peer_done(&syncd.peers[i], 0,
				    "this node is no longer active");
		return;
	}
	if (ino_fd == -1) {
		if ((ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
			log_warn("inotify_init1");
		ino_full = 0;
		syncd_round_wanted(0);
		syncd.next_scan = now + syncd.conf.interval;
		syncd.scan_say = 1;
	}
	for (i = 0; i < syncd.npeers; i++) {
		struct speer	*sp = &syncd.peers[i];

		if (sp->conn == NULL && now >= sp->next_try)
			conn_connect(sp);
		/* unreachable or failing for long: an alert, once */
		if (sp->bad_since != 0 && !sp->alerted &&
		    timer_since(now, sp->bad_since) >= syncd.conf.alert_after) {
			char	 d[256];

			sp->alerted = sp->reached ? 1 : 2;
			snprintf(d, sizeof(d), "peer %s (%s) for %llu s: %s",
			    sp->c.name, sp->addr, (unsigned long long)
			    timer_since(now, sp->bad_since) / 1000, sp->error);
			send_alert(sp->reached ? "sync-failed" : "peer-down",
			    d);
		}
	}
	if (now >= syncd.next_scan) {
		syncd_round_wanted(0);
		syncd.next_scan = now + syncd.conf.interval;
		syncd.scan_say = 1;
	}
	TAILQ_FOREACH(c, &syncd.conns, entry)
		if (c->sender && !c->dead && c->state == C_READY &&
		    timer_since(now, c->opened) >= REKEY_MS) {
			/* a new handshake every hour */
			log_info("peer %s: new session (hourly rekey)",
			    c->node);
			conn_end(c);
			c->sp->next_try = now;
		}
	if (syncd.want_round && now >= syncd.round_at)
		round_start();
}

static void
housekeeping(void)
{
	struct conn	*c, *next;
	uint64_t	 now = timer_now();

	role_apply(now);
	for (c = TAILQ_FIRST(&syncd.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!c->dead && c->sender && c->state <= C_OPENING &&
		    timer_since(now, c->opened) >= OPEN_TIMEOUT_MS)
			conn_close(c, "no session within 10 s");
		/* an opening never finished (a replayed one) ends too */
		if (!c->dead && !c->sender && c->state < C_MANIFEST &&
		    timer_since(now, c->opened) >= UNAUTH_TIMEOUT_MS)
			conn_close(c, "no hello, handshake and fence within "
			    "5 s");
		recv_check_fence(c);
		if (c->dead)
			conn_free(c);
	}
	ctl_check(now);
	if (syncd.status_dirty)
		send_status();
}

static int
next_timeout(void)
{
	uint64_t	 now = timer_now(), due = now + 1000;
	int		 i;

	if (syncd.want_round && syncd.round_at < due)
		due = syncd.round_at;
	if (syncd_active())
		for (i = 0; i < syncd.npeers; i++)
			if (syncd.peers[i].conn == NULL &&
			    syncd.peers[i].next_try < due)
				due = syncd.peers[i].next_try;
	return (due > now ? (int)(due - now) : 0);
}

static void
syncd_loop(void)
{
	struct pollfd	*pfd = NULL;
	struct conn	*c, **pc = NULL;
	size_t		 cap = 0, n, i, nc;
	uint64_t	 listen_again = 0;	/* out of descriptors */
	int		 k, rc;

	for (;;) {
		housekeeping();
		nc = 0;
		TAILQ_FOREACH(c, &syncd.conns, entry)
			nc++;
		if (nc + 3 > cap) {
			cap = nc + 16;
			if ((pfd = reallocarray(pfd, cap, sizeof(*pfd))) ==
			    NULL || (pc = reallocarray(pc, cap,
			    sizeof(*pc))) == NULL)
				fatal("reallocarray");
		}
		proc_pollfd(&pfd[0], &ibuf_main);
		n = 1;
		/* poll skips a negative fd: no accepting while paused */
		pfd[n].fd = timer_now() < listen_again ? -1 : listen_fd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = ino_fd;
		pfd[n++].events = POLLIN;
		TAILQ_FOREACH(c, &syncd.conns, entry) {
			pc[n] = c;
			pfd[n].fd = c->fd;
			pfd[n++].events = conn_pollmask(c);
		}
		if (poll(pfd, n, next_timeout()) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		proc_pollio(&pfd[0], &ibuf_main, syncd_dispatch);
		/* a bounded number a turn, so the sessions get their turn */
		for (k = 0, rc = 1; (pfd[1].revents & POLLIN) && rc == 1 &&
		    k < 64; k++)
			rc = conn_accept(listen_fd);
		if (rc == -1) {
			log_warn("accept: listening again in %d ms",
			    ACCEPT_PAUSE_MS);
			listen_again = timer_now() + ACCEPT_PAUSE_MS;
		}
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
	struct sync_now_msg	 sn;
	struct sync_final_msg	 sf;
	struct sync_dir		*d;
	struct speer		*sp;
	struct stat		 sb;
	ssize_t			 n;
	int			 k;
	int			 was;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_CONF_SYNC:
			if (conf_state != 0 || imsg_get_data(&imsg, &syncd.conf,
			    sizeof(syncd.conf)) == -1
			    || syncd.conf.ndirs > MAX_DIRS ||
			    (syncd.conf.ndirs > 0 && (syncd.conf.delay == 0 ||
			    syncd.conf.interval == 0)) ||
			    !STR_OK(syncd.conf.node) ||
			    !STR_OK(syncd.conf.cluster) ||
			    !STR_OK(syncd.conf.user))
				fatalx("bad IMSG_CONF_SYNC");
			conf_state = 1;
			break;
		case IMSG_CONF_PEER:
			if (conf_state != 1 || syncd.npeers >= MAX_SYNC_PEERS ||
			    imsg_get_data(&imsg, &cp, sizeof(cp)) == -1 ||
			    cp.npubkeys < 1 || cp.npubkeys > MAX_PUBKEYS ||
			    !STR_OK(cp.name))
				fatalx("bad IMSG_CONF_PEER");
			if (strcmp(cp.name, syncd.conf.node) == 0) {
				syncd.self_addr = cp.addr;
				break;
			}
			sp = &syncd.peers[syncd.npeers];
			sp->c = cp;
			sp->port = cp.port ? cp.port : syncd.conf.port;
			addr_str(&cp.addr, sp->addr, sizeof(sp->addr));
			sp->backoff = BACKOFF_MIN;
			sp->last_ok = -1;
			strlcpy(sp->state, "idle", sizeof(sp->state));
			strlcpy(sp->sp.name, cp.name, sizeof(sp->sp.name));
			sp->sp.npub = cp.npubkeys;
			for (k = 0; k < cp.npubkeys; k++)
				memcpy(sp->sp.pub[k], cp.pubkey[k], KEY_LEN);
			syncd.speers[syncd.npeers] = sp->sp;
			syncd.npeers++;
			break;
		case IMSG_CONF_DIR:
			if (conf_state != 1 || imsg_get_data(&imsg, &dm,
			    sizeof(dm)) == -1 || dm.index != syncd.ndirs ||
			    syncd.ndirs >= syncd.conf.ndirs || !STR_OK(dm.path))
				fatalx("bad IMSG_CONF_DIR");
			d = &syncd.dirs[syncd.ndirs];
			if ((d->fd = imsg_get_fd(&imsg)) == -1)
				fatalx("IMSG_CONF_DIR without a descriptor");
			if (fstat(d->fd, &sb) == -1)
				fatal("fstat %s", dm.path);
			d->dev = sb.st_dev;
			strlcpy(d->path, dm.path, PATH_LEN);
			if ((d->cache = scan_cache_new()) == NULL)
				fatal("scan_cache_new");
			/* only syncd writes them: one left is from a crash */
			scan_cache_clean_temps(d->cache, 1);
			scan_cache_on_skip(d->cache, scan_skipped, d);
			syncd.ndirs++;
			break;
		case IMSG_CONF_EXCLUDE:
			if (conf_state != 1 || imsg_get_data(&imsg, &dm,
			    sizeof(dm)) == -1 || syncd.ndirs == 0 ||
			    dm.index != syncd.ndirs - 1 || !STR_OK(dm.path))
				fatalx("bad IMSG_CONF_EXCLUDE");
			d = &syncd.dirs[syncd.ndirs - 1];
			if (d->nex >= MAX_EXCLUDES)
				fatalx("more than %d exclude patterns",
				    MAX_EXCLUDES);
			if ((d->ex[d->nex++] = strdup(dm.path)) == NULL)
				fatal("strdup");
			break;
		case IMSG_CONF_END:
			if (conf_state != 1
			    || syncd.ndirs != syncd.conf.ndirs ||
			    imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			conf_state = 2;
			syncd_attics(0, 0);	/* what earlier epochs kept */
			log_debug("configuration: %u directories, %d peers",
			    syncd.ndirs, syncd.npeers);
			break;
		case IMSG_ROLE:
			if (conf_state != 2 || imsg_get_data(&imsg, &rm,
			    sizeof(rm)) == -1 || rm.role >= ROLE_MAX)
				fatalx("bad IMSG_ROLE");
			if (rm.role == ROLE_ACTIVE && syncd.role != ROLE_ACTIVE)
				log_info("active at epoch %lld: sending",
				    (long long)rm.epoch);
			else if (rm.role != ROLE_ACTIVE &&
			    syncd.role == ROLE_ACTIVE)
				log_info("no longer active: receiving");
			was = syncd_active();
			syncd.role = rm.role;
			syncd.forced = rm.forced;
			/* temporary files are a receiver's: only it cleans;
			 * its hashes are cached by inode, a sender's come
			 * from its last snapshot (a demoting node still sends:
			 * the last round of a hand-over) */
			for (k = 0; k < (int)syncd.ndirs; k++) {
				scan_cache_clean_temps(syncd.dirs[k].cache,
				    rm.role != ROLE_ACTIVE);
				if (syncd_active() && !was)
					scan_cache_by_path(
					    syncd.dirs[k].cache, NULL);
				else if (!syncd_active() && was)
					scan_cache_tree(syncd.dirs[k].cache,
					    syncd.dirs[k].dev, syncd.snap ?
					    &syncd.snap->m[k] : NULL);
			}
			/* a standby keeps no snapshot: the tree has its
			 * hashes now */
			if (!syncd_active() && was) {
				syncd_snap_unref(syncd.snap);
				syncd.snap = NULL;
			}
			if (rm.role == ROLE_ACTIVE)
				syncd.epoch = rm.epoch;
			syncd.status_dirty = 1;
			break;
		case IMSG_LEASE_SEEN: {
			struct seen_msg	 seen;

			if (conf_state != 2 || imsg_get_data(&imsg, &seen,
			    sizeof(seen)) == -1 || seen.epoch < -1 ||
			    !STR_OK(seen.holder))
				fatalx("bad IMSG_LEASE_SEEN");
			syncd.seen = seen;
			break;
		}
		case IMSG_SYNC_NOW:
			if (conf_state != 2 || imsg_get_data(&imsg, &sn,
			    sizeof(sn)) == -1 || sn.timeout > INT32_MAX)
				fatalx("bad IMSG_SYNC_NOW");
			if (sn.id == 0)
				fatalx("bad IMSG_SYNC_NOW: no request id");
			ctl_sync(sn.id, 0, sn.timeout);
			break;
		case IMSG_SYNC_FINAL:
			if (conf_state != 2 || imsg_get_data(&imsg, &sf,
			    sizeof(sf)) == -1 || sf.timeout == 0 ||
			    sf.timeout > INT32_MAX)
				fatalx("bad IMSG_SYNC_FINAL");
			ctl_sync(0, 1, sf.timeout);
			break;
		case IMSG_LOG_VERBOSE:
			proc_log_verbose(&imsg);
			break;
		case IMSG_PING:
			proc_pong(&imsg, &ibuf_main);
			break;
		default:
			fatalx("unexpected message %u", imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
}
