/*
 * syncd: the framing of a session after its handshake.
 *
 * Each direction starts with the 24-byte secretstream header, then
 * frames: a big-endian u32 length n (at most a body of WIRE_MAXBODY plus
 * the type byte and the stream's overhead), then n bytes pushed through
 * the stream: the type byte and the body.  The last frame carries
 * TAG_FINAL; a stream that ends without it is a failure, and so is any
 * frame that does not authenticate, is over-size, or follows the final.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

#define HDRLEN	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define ABYTES	crypto_secretstream_xchacha20poly1305_ABYTES

int
wire_init(struct wire *w, int fd, const uint8_t ksend[32],
    const uint8_t krecv[32])
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	if ((w->in = malloc(WIRE_BUFSIZE)) == NULL ||
	    (w->out = malloc(WIRE_BUFSIZE)) == NULL) {
		free(w->in);
		return (-1);
	}
	/* our stream's header goes first; the peer's arrives first */
	crypto_secretstream_xchacha20poly1305_init_push(&w->tx, w->out, ksend);
	w->outlen = HDRLEN;
	memcpy(w->krx, krecv, sizeof(w->krx));
	return (0);
}

void
wire_free(struct wire *w)
{
	sodium_memzero(&w->tx, sizeof(w->tx));
	sodium_memzero(&w->rx, sizeof(w->rx));
	sodium_memzero(w->krx, sizeof(w->krx));
	free(w->in);
	free(w->out);
	w->in = w->out = NULL;
}

/* Queue one frame; final ends our direction of the session. */
int
wire_send(struct wire *w, uint8_t type, const void *body, size_t len,
    int final)
{
	uint8_t			*p;
	unsigned long long	 clen;
	uint8_t			 tag;
	size_t			 n = 1 + len + ABYTES;

	if (w->sent_final || len > WIRE_MAXBODY ||
	    w->outlen + 4 + n > WIRE_BUFSIZE) {
		errno = w->sent_final ? EPIPE : ENOBUFS;
		return (-1);
	}
	if (w->outoff + w->outlen + 4 + n > WIRE_BUFSIZE) {
		memmove(w->out, w->out + w->outoff, w->outlen);
		w->outoff = 0;
	}
	p = w->out + w->outoff + w->outlen;
	p[0] = n >> 24;
	p[1] = n >> 16;
	p[2] = n >> 8;
	p[3] = n;
	/* the type byte and the body are pushed as one message */
	{
		uint8_t	 m[1 + WIRE_MAXBODY];

		m[0] = type;
		if (len > 0)
			memcpy(m + 1, body, len);
		tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL :
		    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
		crypto_secretstream_xchacha20poly1305_push(&w->tx, p + 4,
		    &clen, m, 1 + len, NULL, 0, tag);
		sodium_memzero(m, 1 + len);
	}
	w->outlen += 4 + clen;
	w->frames_out++;
	if (final)
		w->sent_final = 1;
	return (0);
}

int
wire_pending(struct wire *w)
{
	return (w->outlen > 0);
}

/* 0: all written; 1: more to write later; -1: error. */
int
wire_flush(struct wire *w)
{
	ssize_t	 n;

	while (w->outlen > 0) {
		if ((n = write(w->fd, w->out + w->outoff, w->outlen)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (1);
			return (-1);
		}
		w->outoff += n;
		w->outlen -= n;
	}
	w->outoff = 0;
	return (0);
}

/* 1: read something; 0: the peer closed; -1: error. */
int
wire_read(struct wire *w)
{
	ssize_t	 n;

	if (w->inlen >= WIRE_BUFSIZE)
		return (1);
	/* what is left of a frame moves to the front only when needed */
	if (w->inoff > 0 && w->inoff + w->inlen > WIRE_BUFSIZE / 2) {
		memmove(w->in, w->in + w->inoff, w->inlen);
		w->inoff = 0;
	}
	n = read(w->fd, w->in + w->inoff + w->inlen,
	    WIRE_BUFSIZE - w->inoff - w->inlen);
	if (n == -1)
		return (errno == EAGAIN || errno == EINTR ? 1 : -1);
	w->inlen += n;
	return (n == 0 ? 0 : 1);
}

static void
consume(struct wire *w, size_t n)
{
	w->inoff += n;
	w->inlen -= n;
	if (w->inlen == 0)
		w->inoff = 0;
}

/*
 * The next frame: 1 with its type and body, 0 when incomplete, -1 when
 * the session must end (forged, over-size, after the final frame).
 */
int
wire_get(struct wire *w, uint8_t *type, uint8_t *body, size_t max,
    size_t *len)
{
	uint8_t			 m[1 + WIRE_MAXBODY];
	unsigned long long	 mlen;
	uint32_t		 n;
	uint8_t			 tag;

	const uint8_t		*in = w->in + w->inoff;

	if (!w->rx_ready) {
		if (w->inlen < HDRLEN)
			return (0);
		if (crypto_secretstream_xchacha20poly1305_init_pull(&w->rx,
		    in, w->krx) != 0)
			return (-1);
		sodium_memzero(w->krx, sizeof(w->krx));
		consume(w, HDRLEN);
		w->rx_ready = 1;
		in = w->in + w->inoff;
	}
	if (w->inlen < 4)
		return (0);
	n = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
	    (uint32_t)in[2] << 8 | in[3];
	if (n < 1 + ABYTES || n > 1 + WIRE_MAXBODY + ABYTES || w->got_final) {
		errno = EBADMSG;
		return (-1);
	}
	if (w->inlen < 4 + n)
		return (0);
	if (crypto_secretstream_xchacha20poly1305_pull(&w->rx, m, &mlen, &tag,
	    in + 4, n, NULL, 0) != 0 || mlen - 1 > max) {
		errno = EBADMSG;
		return (-1);
	}
	consume(w, 4 + n);
	*type = m[0];
	*len = mlen - 1;
	memcpy(body, m + 1, *len);
	sodium_memzero(m, mlen);
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		w->got_final = 1;
	w->frames_in++;
	return (1);
}
