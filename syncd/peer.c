/*
 * syncd: one session with a peer, either side (syncd/PROTOCOL).
 *
 * The sender (the active node) connects, opens the session, states
 * {node, epoch} and reads the receiver's manifest; then each round it
 * ships what its snapshot of the tree has and the receiver's does not,
 * in batches the receiver makes durable and acknowledges, deletions after
 * new data.  What the receiver has after a round is what the snapshot
 * had, so the next round plans against it and sends only the difference.
 *
 * The receiver accepts the session only from the holder of the lease at
 * the epoch its heartbeatd last saw, and asks again before every rename
 * or unlink; it never writes outside its directory fds.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "syncd.h"
#include "timer.h"

#define ROOM(c)	((c)->s.w.outlen + 4 + 1 + WIRE_MAXBODY + \
	    crypto_secretstream_xchacha20poly1305_ABYTES <= WIRE_BUFSIZE)
#define BATCH_BYTES	(4ULL << 20)

static uint8_t		 body[WIRE_MAXBODY];
static struct proto_msg	 msg;

static void	 sockopts(int);
static void	 sender_fill(struct conn *);
static void	 receiver_fill(struct conn *);
static int	 sender_frame(struct conn *, struct proto_msg *);
static int	 receiver_frame(struct conn *, struct proto_msg *);

static void
sockopts(int fd)
{
	int	 one = 1, idle = 5, intvl = 2, cnt = 3;
	unsigned int tmo = 15000;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &tmo, sizeof(tmo));
}

static struct conn *
conn_new(int fd, int sender)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	c->fd = fd;
	c->sender = sender;
	c->ffd = -1;
	c->opened = now_ms();
	TAILQ_INSERT_TAIL(&sy.conns, c, entry);
	return (c);
}

struct conn *
conn_connect(struct speer *sp)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct conn		*c;
	int			 fd;

	memset(&ss, 0, sizeof(ss));
	if (sp->c.addr.af == AF_INET6) {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = sp->c.addr.a.v6;
		s6->sin6_port = htons(sp->port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = sp->c.addr.a.v4;
		s4->sin_port = htons(sp->port);
		len = sizeof(*s4);
	}
	sp->reached = 0;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		syncd_peer_failed(sp, strerror(errno));
		return (NULL);
	}
	sockopts(fd);
	if (connect(fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		syncd_peer_failed(sp, strerror(errno));
		close(fd);
		return (NULL);
	}
	c = conn_new(fd, 1);
	c->sp = sp;
	strlcpy(c->addr, sp->addr, sizeof(c->addr));
	strlcpy(c->node, sp->c.name, sizeof(c->node));
	c->state = C_CONNECT;
	sp->conn = c;
	strlcpy(sp->state, "connecting", sizeof(sp->state));
	return (c);
}

struct conn *
conn_accept(int lfd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct fo_addr		 a;
	struct conn		*c;
	int			 fd;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return (NULL);
	}
	sockopts(fd);
	c = conn_new(fd, 0);
	memset(&a, 0, sizeof(a));
	if (ss.ss_family == AF_INET6) {
		a.af = AF_INET6;
		a.a.v6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	} else {
		a.af = AF_INET;
		a.a.v4 = ((struct sockaddr_in *)&ss)->sin_addr;
	}
	addr_str(&a, c->addr, sizeof(c->addr));
	session_accept(&c->s, fd, sy.conf.cluster, sy.conf.secret, sy.speers,
	    sy.npeers);
	c->state = C_OPENING;
	log_debug("peer %s: connected", c->addr);
	return (c);
}

short
conn_pollmask(struct conn *c)
{
	short	 ev = 0;

	if (c->dead)
		return (0);
	switch (c->state) {
	case C_CONNECT:
		return (POLLOUT);
	case C_OPENING:
		ev = POLLIN;
		if (c->s.outlen > 0)
			ev |= POLLOUT;
		return (ev);
	default:
		break;
	}
	if (wire_pending(&c->s.w))
		ev |= POLLOUT;
	/* no more frames in while the answers to them cannot go out */
	if (ROOM(c))
		ev |= POLLIN;
	return (ev);
}

/* The end of a session: failed (why) or clean (NULL). */
void
conn_close(struct conn *c, const char *why)
{
	struct speer	*sp = c->sp;

	if (c->dead)
		return;
	c->dead = 1;
	if (why != NULL) {
		if (c->node[0] != '\0')
			log_warnx("peer %s (%s): %s", c->node, c->addr, why);
		else
			log_warnx("peer %s: %s", c->addr, why);
		if (c->node[0] != '\0' || c->sender)
			strlcpy(sy.last_error, why, sizeof(sy.last_error));
		sy.status_dirty = 1;
	}
	if (sp != NULL) {
		sp->conn = NULL;
		/* peer-down when no session opened, else sync-failed */
		sp->reached = c->state >= C_WAIT;
		if (why != NULL)
			syncd_peer_failed(sp, why);
		else if (strcmp(sp->state, "ok") == 0 ||
		    strcmp(sp->state, "syncing") == 0)
			strlcpy(sp->state, "idle", sizeof(sp->state));
		if (sp->ctl_wait)
			syncd_ctl_peer_done(sp, 0, why ? why :
			    "the session ended");
	}
	if (c->in_file && c->fnext >= RESUME_CHUNK && c->f.path != NULL) {
		/* a large file cut off: what came stays, to resume from */
		resume_drop();
		sy.resume.set = 1;
		sy.resume.dir = c->fdir;
		strlcpy(sy.resume.path, c->f.path, sizeof(sy.resume.path));
		strlcpy(sy.resume.tmp, c->f.tmp, sizeof(sy.resume.tmp));
		sy.resume.size = c->fsize;
		sy.resume.mtime_ns = c->fmtime;
		sy.resume.off = c->fnext - c->fnext % RESUME_CHUNK;
		scan_cache_keep(sy.dirs[c->fdir].cache, c->f.tmp);
		log_info("kept %llu of %llu bytes of %s to resume",
		    (unsigned long long)sy.resume.off,
		    (unsigned long long)c->fsize, c->f.path);
		apply_file_keep(&c->f);
		c->in_file = 0;
	}
	if (c->in_file) {
		apply_file_abort(c->batch, &c->f);
		c->in_file = 0;
	}
	if (c->batch != NULL)
		apply_batch_abort(c->batch);
}

/* The kept part of a file goes: replaced, refused or not needed. */
void
resume_drop(void)
{
	if (!sy.resume.set)
		return;
	(void)apply_unlink_temp(sy.dirs[sy.resume.dir].fd, sy.resume.path,
	    sy.resume.tmp);
	scan_cache_keep(sy.dirs[sy.resume.dir].cache, NULL);
	sy.resume.set = 0;
}

void
conn_free(struct conn *c)
{
	uint32_t	 i;
	size_t		 k;

	TAILQ_REMOVE(&sy.conns, c, entry);
	session_close(&c->s);
	close(c->fd);
	if (c->ffd != -1)
		close(c->ffd);
	if (c->remote != NULL) {
		for (i = 0; i < sy.ndirs; i++)
			scan_manifest_free(&c->remote[i]);
		free(c->remote);
	}
	if (c->local != NULL) {
		for (i = 0; i < sy.ndirs; i++)
			scan_manifest_free(&c->local[i]);
		free(c->local);
	}
	if (c->plan != NULL) {
		for (i = 0; i < sy.ndirs; i++)
			plan_free(&c->plan[i]);
		free(c->plan);
	}
	if (c->snap != NULL)
		snap_unref(c->snap);
	free(c->rs.path);
	for (k = 0; k < c->ndirty; k++)
		free(c->dirty[k].path);
	free(c->dirty);
	apply_batch_free(c->batch);
	free(c);
}

static int
send_msg(struct conn *c, struct proto_msg *m, int final)
{
	size_t	 n;

	if ((n = proto_encode(m, body, sizeof(body))) == 0 &&
	    m->type != P_END && m->type != P_DONE) {
		conn_close(c, "a frame does not fit");
		return (-1);
	}
	if (wire_send(&c->s.w, m->type, body, n, final) == -1) {
		conn_close(c, "send buffer full");
		return (-1);
	}
	return (0);
}

static void __attribute__((__format__ (printf, 2, 3)))
refuse(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	memset(&msg, 0, sizeof(msg));
	msg.type = P_REFUSE;
	va_start(ap, fmt);
	vsnprintf(msg.reason, sizeof(msg.reason), fmt, ap);
	va_end(ap);
	log_notice("peer %s (%s): refused: %s", c->node, c->addr, msg.reason);
	if (send_msg(c, &msg, 1) == 0)
		c->state = C_CLOSING;
}

/* Our side ends: a final frame, then close once it is out. */
void
conn_end(struct conn *c)
{
	if (c->dead)
		return;
	if (c->state < C_WAIT || c->s.w.sent_final) {
		conn_close(c, NULL);
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.type = P_DONE;
	if (send_msg(c, &msg, 1) == 0)
		c->state = C_CLOSING;
}

/* The session is open: the sender states who and which epoch. */
static void
conn_opened(struct conn *c)
{
	c->state = C_WAIT;
	if (!c->sender) {
		strlcpy(c->node, c->s.peer->name, sizeof(c->node));
		return;
	}
	if ((c->remote = calloc(sy.ndirs, sizeof(*c->remote))) == NULL ||
	    (c->plan = calloc(sy.ndirs, sizeof(*c->plan))) == NULL)
		fatal("calloc");
	c->sp->reached = 1;
	strlcpy(c->sp->state, "opening", sizeof(c->sp->state));
	memset(&msg, 0, sizeof(msg));
	msg.type = P_FENCE;
	strlcpy(msg.node, sy.conf.node, sizeof(msg.node));
	msg.epoch = c->epoch = sy.epoch;
	send_msg(c, &msg, 0);
	log_info("peer %s (%s): session open at epoch %lld", c->node,
	    c->addr, (long long)c->epoch);
}

void
conn_events(struct conn *c, short rev)
{
	uint8_t		 type;
	size_t		 len;
	int		 rc, err;
	socklen_t	 sl = sizeof(err);
	char		 why[160];

	(void)rev;	/* reads are non-blocking: tried each time */
	if (c->dead)
		return;
	if (c->state == C_CONNECT) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
			err = errno;
		if (err != 0) {
			conn_close(c, strerror(err));
			return;
		}
		if (session_connect(&c->s, c->fd, sy.conf.cluster,
		    sy.conf.node, sy.conf.secret, &c->sp->sp) == -1) {
			conn_close(c, c->s.error);
			return;
		}
		c->state = C_OPENING;
	}
	if (c->state == C_OPENING) {
		if ((rc = session_io(&c->s)) == -1) {
			if (strcmp(c->s.error, "authentication failed") == 0 ||
			    (c->sender && strcmp(c->s.error,
			    "closed during the handshake") == 0))
				/* the fixed phrase of failoverd(8)1 */
				log_warnx("peer %s: authentication failed",
				    c->addr);
			snprintf(why, sizeof(why), "handshake: %s",
			    c->s.error);
			conn_close(c, why);
			return;
		}
		if (rc == 0)
			return;
		conn_opened(c);
	}
	/* frames in: what is buffered, then what the socket has */
	while (!c->dead && ROOM(c)) {
		size_t	 before = c->s.w.inlen;
		int	 eof;

		if ((rc = wire_read(&c->s.w)) == -1) {
			conn_close(c, strerror(errno));
			return;
		}
		eof = rc == 0;
		while (!c->dead && ROOM(c) && c->state != C_CLOSING) {
			if ((rc = wire_get(&c->s.w, &type, body, sizeof(body),
			    &len)) == -1) {
				conn_close(c, "a frame failed to authenticate "
				    "or was malformed");
				return;
			}
			if (rc == 0)
				break;
			if (proto_decode(type, body, len, sy.ndirs, &msg, why,
			    sizeof(why)) == -1) {
				char	 w2[sizeof(why) + 16];

				snprintf(w2, sizeof(w2), "frame %u: %s", type,
				    why);
				conn_close(c, w2);
				return;
			}
			if ((c->sender ? sender_frame(c, &msg) :
			    receiver_frame(c, &msg)) == -1)
				break;
		}
		if (c->state == C_CLOSING) {
			/* what still comes is dropped; our reason goes out */
			c->s.w.inlen = c->s.w.inoff = 0;
			break;
		}
		if (eof && !c->dead && rc == 0) {
			if (c->s.w.got_final)
				conn_close(c, NULL);
			else
				conn_close(c, "the peer closed the session "
				    "without its final frame");
			return;
		}
		if (c->s.w.inlen == before || eof)
			break;
	}
	/* frames out: fill the buffer, write it, again while it drains */
	for (;;) {
		uint64_t	 before = c->s.w.frames_out;
		int		 wrote;

		if (c->dead)
			return;
		if (c->sender && c->state == C_ROUND)
			sender_fill(c);
		else if (!c->sender && c->state == C_MANIFEST)
			receiver_fill(c);
		if (c->dead)
			return;
		wrote = c->s.w.outlen > 0;
		if ((rc = wire_flush(&c->s.w)) == -1) {
			conn_close(c, strerror(errno));
			return;
		}
		if (rc == 0 && c->state == C_CLOSING) {
			conn_close(c, NULL);
			return;
		}
		/* go on while the buffer drains and the fill adds to it */
		if (rc == 1 || (c->s.w.frames_out == before && !wrote))
			return;
	}
}

/* Sender ---------------------------------------------------------------- */

static int
entry_copy(struct scan_entry *d, const struct scan_entry *s)
{
	*d = *s;
	d->link = NULL;
	if ((d->path = strdup(s->path)) == NULL ||
	    (s->link != NULL && (d->link = strdup(s->link)) == NULL))
		return (-1);
	return (0);
}

static int
remote_add(struct conn *c, const struct proto_msg *m)
{
	struct scan_manifest	*r = &c->remote[m->dir];
	struct scan_entry	 e, *ne;

	if (m->dir != c->mdir)
		return (-1);
	if (r->n > 0 && strcmp(r->e[r->n - 1].path, m->path) >= 0)
		return (-1);	/* not sorted: plan_round needs it */
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		if ((ne = reallocarray(r->e, r->cap, sizeof(*ne))) == NULL)
			fatal("reallocarray");
		r->e = ne;
	}
	memset(&e, 0, sizeof(e));
	e.type = m->ftype;
	e.mode = m->mode;
	e.size = m->size;
	e.mtime_ns = m->mtime_ns;
	memcpy(e.hash, m->hash, sizeof(e.hash));
	e.hashed = 1;
	if ((e.path = strdup(m->path)) == NULL || (m->ftype == SCAN_LINK &&
	    (e.link = strdup(m->target)) == NULL))
		fatal("strdup");
	r->e[r->n++] = e;
	return (0);
}

static int
entry_cmp_path(const void *k, const void *e)
{
	return (strcmp(k, ((const struct scan_entry *)e)->path));
}

/*
 * After a round the receiver has the snapshot, except the files that
 * changed while they were read: those are marked so the next round
 * ships them again.
 */
static void
remote_from_snap(struct conn *c)
{
	struct scan_entry	*e;
	uint32_t		 d;
	size_t			 i;

	for (d = 0; d < sy.ndirs; d++) {
		scan_manifest_free(&c->remote[d]);
		if (c->snap->m[d].n == 0)
			continue;
		c->remote[d].e = calloc(c->snap->m[d].n, sizeof(*e));
		if (c->remote[d].e == NULL)
			fatal("calloc");
		c->remote[d].cap = c->snap->m[d].n;
		for (i = 0; i < c->snap->m[d].n; i++) {
			if (entry_copy(&c->remote[d].e[i],
			    &c->snap->m[d].e[i]) == -1)
				fatal("strdup");
			c->remote[d].n++;
		}
	}
	for (i = 0; i < c->ndirty; i++) {
		d = c->dirty[i].dir;
		if (c->remote[d].n > 0 && (e = bsearch(c->dirty[i].path,
		    c->remote[d].e,
		    c->remote[d].n, sizeof(*e), entry_cmp_path)) != NULL) {
			e->mtime_ns = -1;
			memset(e->hash, 0, sizeof(e->hash));
		}
		free(c->dirty[i].path);
	}
	c->ndirty = 0;
}

static void
mark_dirty(struct conn *c, uint32_t dir, const char *path)
{
	struct dirty	*d;

	if (c->ndirty == c->capdirty) {
		c->capdirty = c->capdirty ? c->capdirty * 2 : 16;
		if ((d = reallocarray(c->dirty, c->capdirty,
		    sizeof(*d))) == NULL)
			fatal("reallocarray");
		c->dirty = d;
	}
	c->dirty[c->ndirty].dir = dir;
	if ((c->dirty[c->ndirty].path = strdup(path)) == NULL)
		fatal("strdup");
	c->ndirty++;
}

/*
 * A lazy scan left new files unhashed; where the receiver has a file of
 * the same size, mode and mtime only the content tells: hash those now.
 */
static void
hash_needed(struct snap *snap, struct scan_manifest *remote, uint32_t d)
{
	struct scan_entry	*l;
	const struct scan_entry	*r;
	size_t			 i = 0, j = 0;
	int			 cmp;

	while (i < snap->m[d].n && j < remote->n) {
		l = &snap->m[d].e[i];
		r = &remote->e[j];
		if ((cmp = strcmp(l->path, r->path)) < 0)
			i++;
		else if (cmp > 0)
			j++;
		else {
			if (l->type == SCAN_FILE && r->type == SCAN_FILE &&
			    !l->hashed && l->size == r->size &&
			    l->mode == r->mode && l->mtime_ns == r->mtime_ns)
				(void)scan_hash_entry(sy.dirs[d].fd,
				    sy.dirs[d].cache, l);
			i++;
			j++;
		}
	}
}

void
conn_round(struct conn *c, struct snap *snap)
{
	char		 err[FAULT_LEN];
	uint32_t	 d;

	for (d = 0; d < sy.ndirs; d++) {
		hash_needed(snap, &c->remote[d], d);
		plan_free(&c->plan[d]);
		if (plan_round(&snap->m[d], &c->remote[d],
		    sy.conf.max_delete, &c->plan[d], err, sizeof(err)) == -1) {
			char	 why[FAULT_LEN + PATH_LEN];

			snprintf(why, sizeof(why), "%s: %s", sy.dirs[d].path,
			    err);
			syncd_guard_failed(why);
			syncd_peer_failed(c->sp, why);
			for (d = 0; d < sy.ndirs; d++)
				plan_free(&c->plan[d]);
			if (c->sp->ctl_wait)
				syncd_ctl_peer_done(c->sp, 0, why);
			return;
		}
	}
	if (c->snap != NULL)
		snap_unref(c->snap);
	c->snap = snap;
	snap->refs++;
	c->pdir = 0;
	c->pitem = 0;
	c->rfiles = c->rbytes = c->rdeleted = 0;
	c->rerror[0] = '\0';
	c->again = 0;
	c->state = C_ROUND;
	strlcpy(c->sp->state, "syncing", sizeof(c->sp->state));
	sender_fill(c);
}

static int
commit(struct conn *c)
{
	if (c->bfiles == 0 && c->bbytes == 0)
		return (0);
	memset(&msg, 0, sizeof(msg));
	msg.type = P_COMMIT;
	msg.seq = ++c->seq;
	c->bfiles = 0;
	c->bbytes = 0;
	return (send_msg(c, &msg, 0));
}

/* The next DATA frame of the file being sent, or its END. */
static int
send_data(struct conn *c)
{
	struct stat	 st;
	size_t		 want;
	ssize_t		 n = 0;

	want = c->fe->size - c->foff;
	if (want > PROTO_MAXDATA)
		want = PROTO_MAXDATA;
	if (want > 0) {
		body[0] = c->foff >> 56; body[1] = c->foff >> 48;
		body[2] = c->foff >> 40; body[3] = c->foff >> 32;
		body[4] = c->foff >> 24; body[5] = c->foff >> 16;
		body[6] = c->foff >> 8; body[7] = c->foff;
		while ((n = pread(c->ffd, body + 8, want, c->foff)) == -1 &&
		    errno == EINTR)
			;
		if (n > 0) {
			crypto_generichash_update(&c->hs, body + 8, n);
			if (wire_send(&c->s.w, P_DATA, body, 8 + n, 0) == -1) {
				conn_close(c, "send buffer full");
				return (-1);
			}
			c->foff += n;
			if (c->foff < c->fe->size)
				return (0);
		}
	}
	/* complete, or it shrank: a file changed while read is sent again */
	if (n < 0 || fstat(c->ffd, &st) == -1 ||
	    (uint64_t)st.st_size != c->fe->size || c->foff != c->fe->size ||
	    (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec !=
	    c->fe->mtime_ns) {
		log_debug("peer %s: %s changed while it was sent", c->node,
		    c->fe->path);
		mark_dirty(c, c->pdir, c->fe->path);
	} else if (!c->fe->hashed) {
		/* read whole and unchanged: its hash, for the next rounds */
		struct scan_entry	*e = (struct scan_entry *)c->fe;

		crypto_generichash_final(&c->hs, e->hash, SCAN_HASHLEN);
		e->hashed = 1;
		scan_cache_put(sy.dirs[c->pdir].cache, &st, e->hash);
	}
	close(c->ffd);
	c->ffd = -1;
	if (wire_send(&c->s.w, P_END, NULL, 0, 0) == -1) {
		conn_close(c, "send buffer full");
		return (-1);
	}
	c->rfiles++;
	c->rbytes += c->foff;
	c->bfiles++;
	c->bbytes += c->foff;
	if ((c->bfiles >= APPLY_MAXBATCH || c->bbytes >= BATCH_BYTES) &&
	    commit(c) == -1)
		return (-1);
	c->fe = NULL;
	return (0);
}

/*
 * The receiver holds the first rs.off bytes of this file from a session
 * that broke: go on from there (the part before is still hashed, from
 * the local file, when the hash is not known yet).
 */
static void
resume_from(struct conn *c)
{
	uint64_t	 off = 0;
	ssize_t		 n;

	c->rs.set = 0;
	while (!c->fe->hashed && off < c->rs.off) {
		n = pread(c->ffd, body, c->rs.off - off < sizeof(body) ?
		    c->rs.off - off : sizeof(body), off);
		if (n <= 0)
			return;		/* it is sent whole */
		crypto_generichash_update(&c->hs, body, n);
		off += n;
	}
	c->foff = c->rs.off;
	log_info("peer %s: %s resumes at %llu of %llu bytes", c->node,
	    c->fe->path, (unsigned long long)c->foff,
	    (unsigned long long)c->fe->size);
}

static int
open_source(struct conn *c, const struct scan_entry *e)
{
	char	 why[PATH_LEN + 64];

	/* beneath the directory, through no symlink, as the receiver does */
	c->ffd = openat2_beneath(sy.dirs[c->pdir].fd, e->path, O_RDONLY, 0);
	if (c->ffd != -1)
		return (0);
	if (errno != ENOENT) {
		snprintf(why, sizeof(why), "%s/%s: %s", sy.dirs[c->pdir].path,
		    e->path, strerror(errno));
		log_warnx("%s", why);
		strlcpy(c->rerror, why, sizeof(c->rerror));
	}
	mark_dirty(c, c->pdir, e->path);
	return (-1);
}

static void
sender_fill(struct conn *c)
{
	const struct plan_item	*it;
	struct plan		*p;

	while (!c->dead && c->state == C_ROUND && ROOM(c)) {
		if (c->fe != NULL) {
			if (send_data(c) == -1)
				return;
			continue;
		}
		if (c->seq - c->acked >= MAX_INFLIGHT)
			return;		/* until an acknowledgement */
		if (c->pdir == sy.ndirs) {
			if (commit(c) == -1)
				return;
			memset(&msg, 0, sizeof(msg));
			msg.type = P_DONE;
			if (send_msg(c, &msg, 0) == 0)
				c->state = C_DONE;
			return;
		}
		p = &c->plan[c->pdir];
		if (c->pitem == p->n) {
			/* a batch never spans two directories */
			if (commit(c) == -1)
				return;
			c->pdir++;
			c->pitem = 0;
			continue;
		}
		it = &p->item[c->pitem];
		/* deletions after the new data is durable */
		if (it->kind == PLAN_DELETE && commit(c) == -1)
			return;
		c->pitem++;
		memset(&msg, 0, sizeof(msg));
		msg.dir = c->pdir;
		strlcpy(msg.path, it->e->path, sizeof(msg.path));
		switch (it->kind) {
		case PLAN_FILE:
			if (open_source(c, it->e) == -1)
				break;
			msg.type = P_BEGIN;
			msg.mode = it->e->mode;
			msg.size = it->e->size;
			msg.mtime_ns = it->e->mtime_ns;
			memcpy(msg.hash, it->e->hash, sizeof(msg.hash));
			c->fe = it->e;
			c->foff = 0;
			crypto_generichash_init(&c->hs, NULL, 0, SCAN_HASHLEN);
			if (c->rs.set && c->rs.dir == c->pdir &&
			    c->rs.size == it->e->size &&
			    c->rs.mtime_ns == it->e->mtime_ns &&
			    strcmp(c->rs.path, it->e->path) == 0)
				resume_from(c);
			send_msg(c, &msg, 0);
			break;
		case PLAN_LINK:
			msg.type = P_LINK;
			msg.mtime_ns = it->e->mtime_ns;
			strlcpy(msg.target, it->e->link, sizeof(msg.target));
			send_msg(c, &msg, 0);
			c->rfiles++;
			break;
		case PLAN_MKDIR:
			msg.type = P_MKDIR;
			msg.mode = it->e->mode;
			send_msg(c, &msg, 0);
			break;
		case PLAN_DELETE:
			msg.type = P_DELETE;
			send_msg(c, &msg, 0);
			c->rdeleted++;
			break;
		}
	}
}

static int
sender_frame(struct conn *c, struct proto_msg *m)
{
	char	 why[320];

	switch (m->type) {
	case P_REFUSE:
		snprintf(why, sizeof(why), "refused: %s", m->reason);
		conn_close(c, why);
		return (-1);
	case P_ENTRY:
		if (c->state != C_WAIT || remote_add(c, m) == -1)
			break;
		return (0);
	case P_RESUME:
		if (c->state != C_WAIT || c->rs.set || c->mdir != 0)
			break;
		c->rs.set = 1;
		c->rs.dir = m->dir;
		if ((c->rs.path = strdup(m->path)) == NULL)
			fatal("strdup");
		c->rs.size = m->size;
		c->rs.mtime_ns = m->mtime_ns;
		c->rs.off = m->off;
		return (0);
	case P_MEND:
		if (c->state != C_WAIT || m->dir != c->mdir)
			break;
		if (++c->mdir == sy.ndirs) {
			c->state = C_READY;
			strlcpy(c->sp->state, "ready", sizeof(c->sp->state));
			log_debug("peer %s: manifest of %u directories",
			    c->node, sy.ndirs);
			syncd_round_wanted(0);
		}
		return (0);
	case P_ACK:
		if ((c->state != C_ROUND && c->state != C_DONE) ||
		    m->seq != c->acked + 1 || m->seq > c->seq)
			break;
		c->acked = m->seq;
		return (0);
	case P_DONE:
		if (c->s.w.got_final) {
			conn_close(c, NULL);
			return (-1);
		}
		if (c->state != C_DONE || c->acked != c->seq)
			break;
		remote_from_snap(c);
		sy.files += c->rfiles;
		sy.bytes += c->rbytes;
		c->state = C_READY;
		if (c->rfiles > 0 || c->rdeleted > 0)
			log_info("peer %s: round done, %llu files, %llu "
			    "bytes, %llu deleted", c->node,
			    (unsigned long long)c->rfiles,
			    (unsigned long long)c->rbytes,
			    (unsigned long long)c->rdeleted);
		if (c->rerror[0] != '\0') {
			syncd_peer_failed(c->sp, c->rerror);
			if (c->sp->ctl_wait && c->snap->id >= sy.ctl_snap)
				syncd_ctl_peer_done(c->sp, 0, c->rerror);
		} else {
			syncd_peer_ok(c->sp);
			if (c->sp->ctl_wait && c->snap->id >= sy.ctl_snap)
				syncd_ctl_peer_done(c->sp, 1, NULL);
		}
		if (c->again || c->ndirty > 0)
			syncd_round_wanted(0);
		return (0);
	default:
		break;
	}
	snprintf(why, sizeof(why), "unexpected frame %u", m->type);
	conn_close(c, why);
	return (-1);
}

/* Receiver -------------------------------------------------------------- */

static void
receiver_fill(struct conn *c)
{
	const struct scan_entry	*e;

	while (!c->dead && ROOM(c) && c->sdir < sy.ndirs) {
		memset(&msg, 0, sizeof(msg));
		msg.dir = c->sdir;
		if (c->sidx == c->local[c->sdir].n) {
			msg.type = P_MEND;
			c->sdir++;
			c->sidx = 0;
			send_msg(c, &msg, 0);
			continue;
		}
		e = &c->local[c->sdir].e[c->sidx++];
		msg.type = P_ENTRY;
		msg.ftype = e->type;
		msg.mode = e->mode;
		msg.size = e->size;
		msg.mtime_ns = e->mtime_ns;
		memcpy(msg.hash, e->hash, sizeof(msg.hash));
		strlcpy(msg.path, e->path, sizeof(msg.path));
		if (e->link != NULL)
			strlcpy(msg.target, e->link, sizeof(msg.target));
		send_msg(c, &msg, 0);
	}
	if (!c->dead && c->sdir == sy.ndirs) {
		uint32_t	 d;

		for (d = 0; d < sy.ndirs; d++)
			scan_manifest_free(&c->local[d]);
		c->state = C_READY;
	}
}

static int
fence_ok(struct conn *c)
{
	return (!syncd_active() && sy.seen.epoch == c->epoch &&
	    strcmp(sy.seen.holder, c->node) == 0);
}

/* Is the session's epoch still the holder's?  Asks the monitor first. */
static int
conn_fence(void *arg)
{
	struct conn	*c = arg;

	syncd_poll_monitor();
	return (!c->dead && fence_ok(c));
}

void
conn_check_fence(struct conn *c)
{
	char	 why[FAULT_LEN];

	if (c->sender || c->dead || c->state < C_MANIFEST || fence_ok(c))
		return;
	if (syncd_active())
		snprintf(why, sizeof(why), "this node is active now");
	else
		snprintf(why, sizeof(why), "epoch %lld went stale (holder "
		    "%s, epoch %lld)", (long long)c->epoch,
		    sy.seen.holder[0] ? sy.seen.holder : "none",
		    (long long)sy.seen.epoch);
	conn_close(c, why);
}

static int
fence(struct conn *c, struct proto_msg *m)
{
	struct scan_stats	 st;
	struct conn		*o;
	uint32_t		 d;

	if (strcmp(m->node, c->node) != 0) {
		refuse(c, "the fence names %s, the key %s", m->node, c->node);
		return (-1);
	}
	c->epoch = m->epoch;
	if (syncd_active()) {
		refuse(c, "this node is active (epoch %lld)",
		    (long long)sy.epoch);
		return (-1);
	}
	if (sy.seen.epoch < m->epoch) {
		refuse(c, "epoch %lld not seen yet (this node saw %lld)",
		    (long long)m->epoch, (long long)sy.seen.epoch);
		return (-1);
	}
	if (!fence_ok(c)) {
		refuse(c, "stale: the lease is %s's at epoch %lld",
		    sy.seen.holder[0] ? sy.seen.holder : "nobody",
		    (long long)sy.seen.epoch);
		return (-1);
	}
	/* one session at a time: an older one of the holder ends */
	TAILQ_FOREACH(o, &sy.conns, entry)
		if (o != c && !o->sender && !o->dead && o->state >= C_MANIFEST)
			conn_close(o, "replaced by a new session");
	if (sy.attic_epoch != m->epoch) {
		/* the first session of an epoch keeps what it replaces */
		snprintf(c->attic, sizeof(c->attic), "%s/%lld", ATTIC,
		    (long long)m->epoch);
		sy.attic_epoch = m->epoch;
	}
	if ((c->local = calloc(sy.ndirs, sizeof(*c->local))) == NULL)
		fatal("calloc");
	for (d = 0; d < sy.ndirs; d++) {
		/* the sender compares hashes: the receiver's are all known */
		scan_cache_lazy(sy.dirs[d].cache, 0);
		if (scan_dir(sy.dirs[d].fd, sy.dirs[d].ex, sy.dirs[d].cache,
		    &c->local[d], &st) == -1) {
			char	 why[PATH_LEN + 64];

			snprintf(why, sizeof(why), "scan of %s: %s",
			    sy.dirs[d].path, strerror(errno));
			conn_close(c, why);
			return (-1);
		}
	}
	log_notice("session from %s (%s) at epoch %lld%s%s", c->node,
	    c->addr, (long long)c->epoch, c->attic[0] ? ", attic " : "",
	    c->attic);
	c->state = C_MANIFEST;
	if (sy.resume.set) {
		memset(&msg, 0, sizeof(msg));
		msg.type = P_RESUME;
		msg.dir = sy.resume.dir;
		msg.size = sy.resume.size;
		msg.mtime_ns = sy.resume.mtime_ns;
		msg.off = sy.resume.off;
		strlcpy(msg.path, sy.resume.path, sizeof(msg.path));
		c->resume_offered = 1;
		return (send_msg(c, &msg, 0));
	}
	return (0);
}

/* This side cannot go on: the sender is told why, then it closes. */
static int
local_error(struct conn *c, const char *what, const char *path)
{
	char	 why[PATH_LEN + 128];

	if (errno == EPERM && !fence_ok(c)) {
		conn_check_fence(c);
		return (-1);
	}
	snprintf(why, sizeof(why), "%s %s: %s", what, path, strerror(errno));
	log_warnx("peer %s (%s): %s", c->node, c->addr, why);
	strlcpy(sy.last_error, why, sizeof(sy.last_error));
	sy.status_dirty = 1;
	if (c->in_file) {
		apply_file_abort(c->batch, &c->f);
		c->in_file = 0;
	}
	if (c->batch != NULL)
		apply_batch_abort(c->batch);
	refuse(c, "%s", why);
	return (-1);
}

static int
receiver_frame(struct conn *c, struct proto_msg *m)
{
	const char	*attic = c->attic[0] ? c->attic : NULL;
	int		 root;
	char		 why[64];

	if (c->state == C_WAIT) {
		if (m->type != P_FENCE)
			goto unexpected;
		return (fence(c, m));
	}
	if (c->state != C_READY && m->type != P_DONE)
		goto unexpected;
	/* before anything that links, makes or unlinks: still current? */
	if ((m->type == P_LINK || m->type == P_MKDIR ||
	    m->type == P_DELETE || m->type == P_BEGIN) && !conn_fence(c)) {
		conn_check_fence(c);
		return (-1);
	}
	root = sy.dirs[m->dir].fd;
	switch (m->type) {
	case P_BEGIN:
		if (c->in_file)
			goto unexpected;
		if (c->batch != NULL && c->batch->n > 0 && c->bdir != m->dir)
			goto unexpected;
		if (c->batch == NULL || c->batch->root != root) {
			apply_batch_free(c->batch);
			if ((c->batch = apply_batch_new(root)) == NULL)
				fatal("apply_batch_new");
		}
		c->bdir = m->dir;
		if (apply_file_begin(c->batch, m->path, &c->f) == -1)
			return (local_error(c, "cannot write", m->path));
		c->in_file = 1;
		c->rmatch = sy.resume.set && sy.resume.dir == m->dir &&
		    sy.resume.size == m->size &&
		    sy.resume.mtime_ns == m->mtime_ns &&
		    strcmp(sy.resume.path, m->path) == 0;
		c->fdir = m->dir;
		c->fsize = m->size;
		c->fnext = 0;
		c->fmode = m->mode;
		c->fmtime = m->mtime_ns;
		return (0);
	case P_DATA:
		if (c->in_file && c->rmatch && c->fnext == 0) {
			c->rmatch = 0;
			if (m->off == sy.resume.off) {
				/* the sender goes on where the last session
				 * broke: the kept file instead of a new one */
				apply_file_abort(c->batch, &c->f);
				if (apply_file_resume(c->batch, sy.resume.path,
				    sy.resume.tmp, sy.resume.off, &c->f) == -1) {
					c->in_file = 0;
					return (local_error(c, "cannot resume",
					    sy.resume.path));
				}
				log_info("peer %s: %s resumed at %llu bytes",
				    c->node, sy.resume.path,
				    (unsigned long long)sy.resume.off);
				c->fnext = sy.resume.off;
				scan_cache_keep(sy.dirs[sy.resume.dir].cache,
				    NULL);
				sy.resume.set = 0;
			} else
				resume_drop();
		}
		if (!c->in_file || m->off != c->fnext ||
		    m->datalen > c->fsize - c->fnext)
			goto unexpected;
		if (apply_file_write(&c->f, m->data, m->datalen, m->off) == -1)
			return (local_error(c, "cannot write", c->f.path));
		c->fnext += m->datalen;
		return (0);
	case P_END:
		if (!c->in_file)
			goto unexpected;
		c->in_file = 0;
		if (c->fnext != c->fsize) {
			/* it changed while it was read: the next round */
			apply_file_abort(c->batch, &c->f);
			return (0);
		}
		if (apply_file_end(c->batch, &c->f, c->fmode, c->fmtime) == -1)
			return (local_error(c, "cannot write", m->path));
		sy.files++;
		sy.bytes += c->fsize;
		return (0);
	case P_LINK:
		if (c->in_file)
			goto unexpected;
		if (apply_symlink(root, m->path, m->target,
		    m->mtime_ns, attic) == -1)
			return (local_error(c, "cannot link", m->path));
		sy.files++;
		return (0);
	case P_MKDIR:
		if (c->in_file)
			goto unexpected;
		if (apply_mkdir(root, m->path, m->mode) == -1)
			return (local_error(c, "cannot make directory",
			    m->path));
		return (0);
	case P_DELETE:
		if (c->in_file)
			goto unexpected;
		if (apply_remove(root, m->path, attic) == -1)
			return (local_error(c, "cannot delete", m->path));
		return (0);
	case P_COMMIT:
		if (c->in_file || m->seq != c->commits + 1)
			goto unexpected;
		if (c->batch != NULL && apply_batch_commit(c->batch,
		    conn_fence, c, attic) == -1)
			return (local_error(c, "cannot commit in",
			    sy.dirs[c->bdir].path));
		c->commits++;
		memset(&msg, 0, sizeof(msg));
		msg.type = P_ACK;
		msg.seq = c->commits;
		return (send_msg(c, &msg, 0));
	case P_DONE:
		if (c->in_file || (c->batch != NULL && c->batch->n > 0))
			goto unexpected;
		if (c->s.w.got_final) {
			conn_end(c);
			return (-1);
		}
		sy.last_ok = unix_now();
		sy.last_error[0] = '\0';
		sy.status_dirty = 1;
		if (c->resume_offered) {
			/* a round done without it: the part is not needed */
			resume_drop();
			c->resume_offered = 0;
		}
		memset(&msg, 0, sizeof(msg));
		msg.type = P_DONE;
		return (send_msg(c, &msg, 0));
	default:
		break;
	}
unexpected:
	snprintf(why, sizeof(why), "unexpected frame %u", m->type);
	conn_close(c, why);
	return (-1);
}
