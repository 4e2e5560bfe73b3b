/*
 * syncd/wire.c over a socketpair: frames in order, both directions, a
 * tampered byte, a stream cut before TAG_FINAL, an over-size length, a
 * frame after the final one, and the wrong key.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"
#include "tap.h"

static uint8_t	 k1[32], k2[32], body[WIRE_MAXBODY];

/* read and get frames until one comes, the peer closes, or an error */
static int
pull(struct wire *w, uint8_t *type, size_t *len)
{
	int	 rc;

	for (;;) {
		if ((rc = wire_get(w, type, body, sizeof(body), len)) != 0)
			return (rc);
		if ((rc = wire_read(w)) <= 0)
			return (rc == 0 ? -2 : -1);
	}
}

static void
pair(int sp[2], struct wire *a, struct wire *b)
{
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	wire_init(a, sp[0], k1, k2);
	wire_init(b, sp[1], k2, k1);
}

int
main(void)
{
	struct wire	 a, b;
	uint8_t		 type, big[WIRE_MAXBODY], raw[256];
	size_t		 len;
	ssize_t		 n;
	int		 sp[2], i, good;
	pid_t		 pid;

	if (sodium_init() == -1)
		return (2);
	randombytes_buf(k1, sizeof(k1));
	randombytes_buf(k2, sizeof(k2));
	randombytes_buf(big, sizeof(big));

	/* frames in order, a full-size one, the final one */
	pair(sp, &a, &b);
	if ((pid = fork()) == 0) {
		for (i = 0; i < 50; i++)
			wire_send(&a, 1 + i % 3, &i, sizeof(i), 0);
		wire_send(&a, 7, big, sizeof(big), 0);
		wire_send(&a, 9, NULL, 0, 1);
		while (wire_flush(&a) == 1)
			;
		_exit(0);
	}
	close(sp[0]);	/* the child writes; its end closes when it exits */
	for (good = 0, i = 0; i < 50; i++) {
		int	 v;

		if (pull(&b, &type, &len) == 1 && type == 1 + i % 3 &&
		    len == sizeof(v) && (memcpy(&v, body, sizeof(v)), v == i))
			good++;
	}
	ok(good == 50, "50 frames arrive in order and intact");
	ok(pull(&b, &type, &len) == 1 && type == 7 && len == sizeof(big) &&
	    memcmp(body, big, sizeof(big)) == 0, "a frame of 64 KiB");
	ok(pull(&b, &type, &len) == 1 && type == 9 && b.got_final,
	    "the final frame is seen as final");
	ok(pull(&b, &type, &len) == -2, "then the end of the stream");
	wire_free(&a);
	wire_free(&b);
	close(sp[1]);
	wire_init(&a, -1, k1, k2);
	wire_send(&a, 9, NULL, 0, 1);
	ok(wire_send(&a, 1, NULL, 0, 0) == -1, "nothing may be sent after "
	    "the final frame");
	ok(wire_send(&a, 1, big, sizeof(big) + 1, 0) == -1, "nor a body over "
	    "64 KiB");
	wire_free(&a);

	/* a flipped byte anywhere in a frame ends the session */
	for (good = 0, i = 0; i < 4 + 1 + 5 + 17; i++) {
		struct wire	 c, d;
		int		 q[2];

		socketpair(AF_UNIX, SOCK_STREAM, 0, q);
		wire_init(&c, -1, k1, k2);
		wire_init(&d, q[1], k2, k1);
		wire_send(&c, 3, "hello", 5, 1);
		memcpy(raw, c.out, c.outlen);
		raw[24 + i] ^= 0x04;	/* past the stream header */
		n = write(q[0], raw, c.outlen);
		close(q[0]);
		if (n > 0 && pull(&d, &type, &len) < 0)
			good++;
		wire_free(&c);
		wire_free(&d);
		close(q[1]);
	}
	ok(good == 27, "a flipped byte anywhere in a frame ends the session "
	    "(%d of 27 positions)", good);

	/* cut before the final frame: the reader sees the end, unfinished */
	pair(sp, &a, &b);
	wire_send(&a, 3, "partial", 7, 0);
	wire_flush(&a);
	close(sp[0]);
	ok(pull(&b, &type, &len) == 1 && !b.got_final, "a frame without the "
	    "final tag");
	ok(pull(&b, &type, &len) == -2 && !b.got_final, "then the end: the "
	    "session failed (no TAG_FINAL)");
	wire_free(&a);
	wire_free(&b);
	close(sp[1]);

	/* an over-size length ends the session before anything is read */
	pair(sp, &a, &b);
	memcpy(raw, a.out, 24);
	raw[24] = 0x7f;
	raw[25] = raw[26] = raw[27] = 0xff;
	n = write(sp[0], raw, 28);
	ok(n == 28 && pull(&b, &type, &len) == -1, "a frame length of 2 GiB "
	    "is refused at once");
	wire_free(&a);
	wire_free(&b);
	close(sp[0]);
	close(sp[1]);

	/* the wrong key */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	wire_init(&a, sp[0], k1, k2);
	wire_init(&b, sp[1], k2, k2);
	wire_send(&a, 3, "secret", 6, 1);
	wire_flush(&a);
	ok(pull(&b, &type, &len) == -1, "a stream under another key is "
	    "refused");
	wire_free(&a);
	wire_free(&b);
	close(sp[0]);
	close(sp[1]);
	return (tap_done());
}
