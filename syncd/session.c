/*
 * syncd: the opening of a session, as a state machine on a non-blocking
 * socket.  The initiator (the active node's syncd) sends its clear hello
 * {version, cluster, node} and the first handshake message; the hello,
 * as sent, is the Noise prologue.  The responder names the peer from the
 * hello, tries each public key pinned for it (two during a rotation), and
 * answers.  Then each side keys its secretstream from the split.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

static int
fail(struct session *s, const char *why)
{
	strlcpy(s->error, why, sizeof(s->error));
	s->state = S_FAILED;
	return (-1);
}

static void
put_msg(struct session *s, const uint8_t *m, size_t len)
{
	s->out[s->outlen++] = len >> 8;
	s->out[s->outlen++] = len & 0xff;
	memcpy(s->out + s->outlen, m, len);
	s->outlen += len;
}

static void
open_wire(struct session *s)
{
	struct noise_cipher	 tx, rx;

	noise_split(&s->hs, &tx, &rx);
	wire_init(&s->w, s->fd, tx.k, rx.k);
	sodium_memzero(&tx, sizeof(tx));
	sodium_memzero(&rx, sizeof(rx));
	noise_clear(&s->hs);
	sodium_memzero(s->sk, sizeof(s->sk));
	/* whatever came after the handshake is the peer's stream */
	if (s->inlen > 0) {
		memcpy(s->w.in, s->in, s->inlen);
		s->w.inlen = s->inlen;
		s->inlen = 0;
	}
	s->state = S_OPEN;
}

int
session_connect(struct session *s, int fd, const char *cluster,
    const char *me, const uint8_t sk[NOISE_KEYLEN],
    const struct session_peer *peer)
{
	uint8_t	 m[128];
	size_t	 cl = strlen(cluster), nl = strlen(me), len;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->initiator = 1;
	s->peer = peer;
	if (cl == 0 || cl >= NAME_LEN || nl == 0 || nl >= NAME_LEN ||
	    peer->npub < 1)
		return (fail(s, "bad hello"));
	s->hello[0] = SESSION_VERSION;
	s->hello[1] = cl;
	memcpy(s->hello + 2, cluster, cl);
	s->hello[2 + cl] = nl;
	memcpy(s->hello + 3 + cl, me, nl);
	s->hellolen = 3 + cl + nl;
	memcpy(s->out, s->hello, s->hellolen);
	s->outlen = s->hellolen;
	/* the peer's first key; a rotation lists the new one first */
	noise_init(&s->hs, 1, s->hello, s->hellolen, sk, peer->pub[0]);
	if (noise_write(&s->hs, NULL, 0, m, sizeof(m), &len) == -1)
		return (fail(s, "handshake"));
	put_msg(s, m, len);
	s->state = S_MSG2;
	return (0);
}

int
session_accept(struct session *s, int fd, const char *cluster,
    const uint8_t sk[NOISE_KEYLEN], const struct session_peer *peers,
    int npeers)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	strlcpy(s->cluster, cluster, sizeof(s->cluster));
	memcpy(s->sk, sk, NOISE_KEYLEN);
	s->peers = peers;
	s->npeers = npeers;
	s->state = S_HELLO;
	return (0);
}

/* The hello: a known version, our cluster, a node of the configuration. */
static int
hello_parse(struct session *s)
{
	char	 name[NAME_LEN];
	size_t	 cl, nl;
	int	 i;

	if (s->inlen < 2)
		return (0);
	if (s->in[0] != SESSION_VERSION)
		return (fail(s, "unsupported protocol version"));
	cl = s->in[1];
	if (cl == 0 || cl >= NAME_LEN)
		return (fail(s, "malformed hello"));
	if (s->inlen < 3 + cl)
		return (0);
	nl = s->in[2 + cl];
	if (nl == 0 || nl >= NAME_LEN)
		return (fail(s, "malformed hello"));
	if (s->inlen < 3 + cl + nl)
		return (0);
	if (cl != strlen(s->cluster) || memcmp(s->in + 2, s->cluster, cl))
		return (fail(s, "another cluster"));
	memcpy(name, s->in + 3 + cl, nl);
	name[nl] = '\0';
	if (memchr(name, '\0', nl) != NULL)
		return (fail(s, "malformed hello"));
	for (i = 0; i < s->npeers; i++)
		if (strcmp(s->peers[i].name, name) == 0)
			s->peer = &s->peers[i];
	if (s->peer == NULL)
		return (fail(s, "unknown node"));
	s->hellolen = 3 + cl + nl;
	memcpy(s->hello, s->in, s->hellolen);
	memmove(s->in, s->in + s->hellolen, s->inlen - s->hellolen);
	s->inlen -= s->hellolen;
	s->state = S_MSG1;
	return (1);
}

/* A length-prefixed handshake message in s->in: its length, or 0. */
static size_t
msg_ready(struct session *s)
{
	size_t	 len;

	if (s->inlen < 2)
		return (0);
	len = (size_t)s->in[0] << 8 | s->in[1];
	if (len > sizeof(s->in) - 2) {
		fail(s, "over-size handshake message");
		return (0);
	}
	return (s->inlen >= 2 + len ? len : 0);
}

static void
msg_consume(struct session *s, size_t len)
{
	memmove(s->in, s->in + 2 + len, s->inlen - 2 - len);
	s->inlen -= 2 + len;
}

static int
step(struct session *s)
{
	uint8_t	 p[64], m[128];
	size_t	 len, plen, mlen;
	int	 k;

	switch (s->state) {
	case S_HELLO:
		return (hello_parse(s));
	case S_MSG1:
		if ((len = msg_ready(s)) == 0)
			return (s->state == S_FAILED ? -1 : 0);
		/* try each key pinned for the peer */
		for (k = 0; k < s->peer->npub; k++) {
			noise_init(&s->hs, 0, s->hello, s->hellolen, s->sk,
			    s->peer->pub[k]);
			if (noise_read(&s->hs, s->in + 2, len, p, sizeof(p),
			    &plen) == 0)
				break;
			noise_clear(&s->hs);
		}
		msg_consume(s, len);
		if (k == s->peer->npub || plen != 0)
			return (fail(s, "authentication failed"));
		if (noise_write(&s->hs, NULL, 0, m, sizeof(m), &mlen) == -1)
			return (fail(s, "handshake"));
		put_msg(s, m, mlen);
		open_wire(s);
		return (1);
	case S_MSG2:
		if (s->outlen > 0 || (len = msg_ready(s)) == 0)
			return (s->state == S_FAILED ? -1 : 0);
		if (noise_read(&s->hs, s->in + 2, len, p, sizeof(p),
		    &plen) == -1 || plen != 0)
			return (fail(s, "authentication failed"));
		msg_consume(s, len);
		open_wire(s);
		return (1);
	default:
		return (0);
	}
}

/* Drive the opening: -1 failed (s->error says why), 0 not yet, 1 open. */
int
session_io(struct session *s)
{
	ssize_t	 n;
	int	 rc;

	if (s->state == S_FAILED)
		return (-1);
	/* what the handshake has to say goes before the stream's header */
	while (s->outlen > 0) {
		if ((n = write(s->fd, s->out, s->outlen)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return (fail(s, strerror(errno)));
		}
		memmove(s->out, s->out + n, s->outlen - n);
		s->outlen -= n;
	}
	if (s->outlen > 0)
		return (0);
	if (s->state == S_OPEN)
		return (1);
	for (;;) {
		if ((rc = step(s)) == -1)
			return (-1);
		if (s->state == S_OPEN)
			return (session_io(s));
		if (rc == 1)
			continue;
		if (s->inlen >= sizeof(s->in))
			return (fail(s, "over-size hello"));
		n = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen);
		if (n == -1)
			return (errno == EAGAIN || errno == EINTR ? 0 :
			    fail(s, strerror(errno)));
		if (n == 0)
			return (fail(s, "closed during the handshake"));
		s->inlen += n;
	}
}

void
session_close(struct session *s)
{
	if (s->state == S_OPEN)
		wire_free(&s->w);
	noise_clear(&s->hs);
	sodium_memzero(s->sk, sizeof(s->sk));
}
