/*
 * syncd: a session with a peer, either side (syncd/PROTOCOL): the TCP
 * connection, the handshake, the frames in and out, and its end.
 *
 * The sender (the active node, send.c) connects, opens the session and
 * states {node, epoch}; the receiver (a standby, recv.c) accepts it only
 * from the holder of the lease at the epoch its heartbeatd last saw.
 * This file moves frames between the socket and those two halves and
 * ends the session when either side or the network fails.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "syncd.h"
#include "timer.h"

static uint8_t		 body[WIRE_MAXBODY];
static struct proto_msg	 msg;		/* the frame decoded */

static void	 sockopts(int);

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
	c->opened = timer_now();
	TAILQ_INSERT_TAIL(&syncd.conns, c, entry);
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

/* The address of a node of the configuration, this one included. */
static int
node_addr(const struct fo_addr *a)
{
	int	 i;

	if (syncd.self_addr.af == a->af && memcmp(&syncd.self_addr.a, &a->a,
	    a->af == AF_INET ? sizeof(a->a.v4) : sizeof(a->a.v6)) == 0)
		return (1);
	for (i = 0; i < syncd.npeers; i++) {
		const struct fo_addr	*p = &syncd.peers[i].c.addr;

		if (p->af == a->af && memcmp(&p->a, &a->a, a->af == AF_INET ?
		    sizeof(a->a.v4) : sizeof(a->a.v6)) == 0)
			return (1);
	}
	return (0);
}

/*
 * A refusal before authentication, logged at most once a minute per
 * address (and per reason), so a flood cannot fill the log either.
 */
static void
refuse_unauth(const struct fo_addr *a, const char *why)
{
	static struct {
		struct fo_addr	 addr;
		const char	*why;
		uint64_t	 at;
	}		 seen[16];
	uint64_t	 now = timer_now();
	size_t		 i, old = 0;
	char		 buf[ADDR_STRLEN];

	for (i = 0; i < sizeof(seen) / sizeof(seen[0]); i++) {
		if (seen[i].why == why && memcmp(&seen[i].addr, a,
		    sizeof(*a)) == 0)
			break;
		if (seen[i].at < seen[old].at)
			old = i;
	}
	if (i < sizeof(seen) / sizeof(seen[0])) {
		if (now - seen[i].at < UNAUTH_LOG_MS)
			return;
	} else {
		i = old;
		seen[i].addr = *a;
		seen[i].why = why;
	}
	seen[i].at = now;
	log_warnx("%s: %s; closed (said at most once a minute)",
	    addr_str(a, buf, sizeof(buf)), why);
}

/* Sessions in the making: accepted, not yet fenced. */
static int
unauth_count(void)
{
	struct conn	*c;
	int		 n = 0;

	TAILQ_FOREACH(c, &syncd.conns, entry)
		if (!c->sender && !c->dead && c->state < C_MANIFEST)
			n++;
	return (n);
}

/*
 * One connection from the listening socket: 1 taken (a session begins,
 * or it was closed at once), 0 none waiting, -1 out of descriptors (the
 * caller stops listening for a while rather than spin).
 */
int
conn_accept(int lfd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct fo_addr		 a;
	struct conn		*c;
	int			 fd;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			return (-1);
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return (errno == ECONNABORTED || errno == EINTR);
	}
	memset(&a, 0, sizeof(a));
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		a.af = AF_INET;
		memcpy(&a.a.v4, &((struct sockaddr_in6 *)&ss)->sin6_addr.
		    s6_addr[12], sizeof(a.a.v4));
	} else if (ss.ss_family == AF_INET6) {
		a.af = AF_INET6;
		a.a.v6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	} else {
		a.af = AF_INET;
		a.a.v4 = ((struct sockaddr_in *)&ss)->sin_addr;
	}
	if (!node_addr(&a)) {
		refuse_unauth(&a, "not a node of the cluster");
		close(fd);
		return (1);
	}
	if (unauth_count() >= MAX_UNAUTH) {
		refuse_unauth(&a, "too many sessions opening at once");
		close(fd);
		return (1);
	}
	sockopts(fd);
	c = conn_new(fd, 0);
	addr_str(&a, c->addr, sizeof(c->addr));
	session_accept(&c->s, fd, syncd.conf.cluster, syncd.conf.secret,
	    syncd.speers, syncd.npeers);
	c->state = C_OPENING;
	log_debug("peer %s: connected", c->addr);
	return (1);
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
	if (conn_room(c))
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
			strlcpy(syncd.last_error, why,
			    sizeof(syncd.last_error));
		syncd.status_dirty = 1;
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
	if (!c->sender)
		recv_abort(c);
}

void
conn_free(struct conn *c)
{
	uint32_t	 i;
	size_t		 k;

	TAILQ_REMOVE(&syncd.conns, c, entry);
	session_close(&c->s);
	close(c->fd);
	if (c->ffd != -1)
		close(c->ffd);
	if (c->remote != NULL) {
		for (i = 0; i < syncd.ndirs; i++)
			scan_manifest_free(&c->remote[i]);
		free(c->remote);
	}
	if (c->rstale != NULL) {
		for (i = 0; i < syncd.ndirs; i++)
			free(c->rstale[i]);
		free(c->rstale);
	}
	syncd_snap_unref(c->rsnap);
	if (c->local != NULL) {
		for (i = 0; i < syncd.ndirs; i++)
			scan_manifest_free(&c->local[i]);
		free(c->local);
	}
	if (c->plan != NULL) {
		for (i = 0; i < syncd.ndirs; i++)
			plan_free(&c->plan[i]);
		free(c->plan);
	}
	if (c->snap != NULL)
		syncd_snap_unref(c->snap);
	free(c->rs.path);
	for (k = 0; k < c->ndirty; k++)
		free(c->dirty[k].path);
	free(c->dirty);
	apply_batch_free(c->batch);
	free(c);
}

/* One frame of the session; on failure the session is closed. */
int
conn_send(struct conn *c, struct proto_msg *m, int final)
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

/* The peer is told why as our final frame; then the session closes. */
void
conn_refuse(struct conn *c, const char *fmt, ...)
{
	struct proto_msg	 m;
	va_list			 ap;

	memset(&m, 0, sizeof(m));
	m.type = P_REFUSE;
	va_start(ap, fmt);
	vsnprintf(m.reason, sizeof(m.reason), fmt, ap);
	va_end(ap);
	log_notice("peer %s (%s): refused: %s", c->node, c->addr, m.reason);
	if (conn_send(c, &m, 1) == 0)
		c->state = C_CLOSING;
}

/* Our side ends: a final frame, then close once it is out. */
void
conn_end(struct conn *c)
{
	struct proto_msg	 m;

	if (c->dead)
		return;
	if (c->state < C_WAIT || c->s.w.sent_final) {
		conn_close(c, NULL);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = P_DONE;
	if (conn_send(c, &m, 1) == 0)
		c->state = C_CLOSING;
}

/* The session is open: the sender states who and which epoch. */
static void
conn_opened(struct conn *c)
{
	c->state = C_WAIT;
	if (c->sender)
		send_opened(c);
	else
		strlcpy(c->node, c->s.peer->name, sizeof(c->node));
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
		if (session_connect(&c->s, c->fd, syncd.conf.cluster,
		    syncd.conf.node, syncd.conf.secret, &c->sp->sp) == -1) {
			conn_close(c, c->s.error);
			return;
		}
		c->state = C_OPENING;
	}
	if (c->state == C_OPENING) {
		if ((rc = session_io(&c->s)) == -1) {
			/* the fixed phrase failoverd(8) documents, only when
			 * this side found the key wrong: a peer that closed
			 * may have any reason (the other side says which) */
			if (strcmp(c->s.error, "authentication failed") == 0)
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
	while (!c->dead && conn_room(c)) {
		size_t	 before = c->s.w.inlen;
		int	 eof;

		if ((rc = wire_read(&c->s.w)) == -1) {
			conn_close(c, strerror(errno));
			return;
		}
		eof = rc == 0;
		while (!c->dead && conn_room(c) && c->state != C_CLOSING) {
			if ((rc = wire_get(&c->s.w, &type, body, sizeof(body),
			    &len)) == -1) {
				conn_close(c, "a frame failed to authenticate "
				    "or was malformed");
				return;
			}
			if (rc == 0)
				break;
			if (proto_decode(type, body, len, syncd.ndirs, &msg,
			    why,
			    sizeof(why)) == -1) {
				char	 w2[sizeof(why) + 16];

				snprintf(w2, sizeof(w2), "frame %u: %s", type,
				    why);
				conn_close(c, w2);
				return;
			}
			if ((c->sender ? send_frame(c, &msg) :
			    recv_frame(c, &msg)) == -1)
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
			send_fill(c);
		else if (!c->sender && c->state == C_MANIFEST)
			recv_fill(c);
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
