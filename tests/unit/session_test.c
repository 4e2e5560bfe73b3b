/*
 * syncd/session.c over a non-blocking socketpair: the opening succeeds
 * with pinned keys (also with the second key of a rotation) and frames
 * flow both ways; a wrong key, an unknown node, another cluster, another
 * version and a forged hello are refused.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "session.h"
#include "tap.h"

static uint8_t	 ask[32], apk[32], bsk[32], bpk[32], xsk[32], xpk[32];

/* run both ends until both open or one fails; the responder's verdict */
static int
run(struct session *i, struct session *r)
{
	int	 a = 0, b = 0, n;

	for (n = 0; n < 100 && (a != 1 || b != 1); n++) {
		if (a != 1 && (a = session_io(i)) == -1)
			break;
		if (b != 1 && (b = session_io(r)) == -1)
			break;
	}
	return (b == 1 && a == 1 ? 1 : b == -1 ? -1 : a == -1 ? -2 : 0);
}

static void
nb_pair(int sp[2])
{
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
}

static int
attempt(const char *cluster_i, const char *node_i, const uint8_t *isk,
    const struct session_peer *i_sees, const struct session_peer *r_knows,
    int nr, struct session *r, uint8_t corrupt_at)
{
	struct session	 i;
	int		 sp[2], rc;

	nb_pair(sp);
	session_connect(&i, sp[0], cluster_i, node_i, isk, i_sees);
	if (corrupt_at)		/* 1 + the index of the byte to flip */
		i.out[corrupt_at - 1] ^= 0x01;
	session_accept(r, sp[1], "c1", bsk, r_knows, nr);
	rc = run(&i, r);
	session_close(&i);
	close(sp[0]);
	close(sp[1]);
	return (rc);
}

int
main(void)
{
	struct session		 i, r;
	struct session_peer	 pb, pa, pa2, pz;
	uint8_t			 type, body[64];
	size_t			 len;
	int			 sp[2], got, n;

	if (sodium_init() == -1)
		return (2);
	crypto_box_keypair(apk, ask);
	crypto_box_keypair(bpk, bsk);
	crypto_box_keypair(xpk, xsk);
	memset(&pb, 0, sizeof(pb));
	strlcpy(pb.name, "b", sizeof(pb.name));
	pb.npub = 1;
	memcpy(pb.pub[0], bpk, 32);
	memset(&pa, 0, sizeof(pa));
	strlcpy(pa.name, "a", sizeof(pa.name));
	pa.npub = 1;
	memcpy(pa.pub[0], apk, 32);

	nb_pair(sp);
	session_connect(&i, sp[0], "c1", "a", ask, &pb);
	session_accept(&r, sp[1], "c1", bsk, &pa, 1);
	ok(run(&i, &r) == 1, "a opens a session to b with pinned keys");
	ok(r.peer != NULL && strcmp(r.peer->name, "a") == 0,
	    "b knows it is a");
	wire_send(&i.w, 5, "to b", 4, 0);
	wire_send(&r.w, 6, "to a", 4, 0);
	for (got = 0, n = 0; n < 100 && got != 3; n++) {
		wire_flush(&i.w);
		wire_flush(&r.w);
		wire_read(&i.w);
		wire_read(&r.w);
		if (!(got & 1) && wire_get(&r.w, &type, body, sizeof(body),
		    &len) == 1 && type == 5 && len == 4 &&
		    memcmp(body, "to b", 4) == 0)
			got |= 1;
		if (!(got & 2) && wire_get(&i.w, &type, body, sizeof(body),
		    &len) == 1 && type == 6 && len == 4 &&
		    memcmp(body, "to a", 4) == 0)
			got |= 2;
	}
	ok(got == 3, "frames flow both ways");
	session_close(&i);
	session_close(&r);
	close(sp[0]);
	close(sp[1]);

	/* rotation: b pins a's old and new key; a uses the new one */
	memset(&pa2, 0, sizeof(pa2));
	strlcpy(pa2.name, "a", sizeof(pa2.name));
	pa2.npub = 2;
	memcpy(pa2.pub[0], xpk, 32);
	memcpy(pa2.pub[1], apk, 32);
	ok(attempt("c1", "a", ask, &pb, &pa2, 1, &r, 0) == 1,
	    "with two keys pinned (a rotation) the second one works");
	session_close(&r);

	ok(attempt("c1", "a", xsk, &pb, &pa, 1, &r, 0) == -1 &&
	    strcmp(r.error, "authentication failed") == 0,
	    "a node with the wrong key: authentication failed");
	session_close(&r);
	memset(&pz, 0, sizeof(pz));
	strlcpy(pz.name, "b", sizeof(pz.name));
	pz.npub = 1;
	memcpy(pz.pub[0], xpk, 32);
	ok(attempt("c1", "a", ask, &pz, &pa, 1, &r, 0) == -1,
	    "an initiator that pinned another key for b fails");
	session_close(&r);
	ok(attempt("c1", "zed", ask, &pb, &pa, 1, &r, 0) == -1 &&
	    strcmp(r.error, "unknown node") == 0, "an unknown node is refused");
	session_close(&r);
	ok(attempt("other", "a", ask, &pb, &pa, 1, &r, 0) == -1 &&
	    strcmp(r.error, "another cluster") == 0,
	    "another cluster is refused");
	session_close(&r);
	ok(attempt("c1", "a", ask, &pb, &pa, 1, &r, 1) == -1 &&
	    strcmp(r.error, "unsupported protocol version") == 0,
	    "a hello with another version is refused");
	session_close(&r);
	/*
	 * The hello altered on the way to name another configured node with
	 * the same key: only the prologue binding can catch it.
	 */
	{
		struct session		 ii;
		struct session_peer	 two[2];

		two[0] = pa;
		two[1] = pa;
		strlcpy(two[1].name, "A", sizeof(two[1].name));
		nb_pair(sp);
		session_connect(&ii, sp[0], "c1", "a", ask, &pb);
		session_accept(&r, sp[1], "c1", bsk, two, 2);
		ii.out[5] ^= 0x20;	/* node "a" becomes "A" */
		ok(run(&ii, &r) == -1 &&
		    strcmp(r.error, "authentication failed") == 0,
		    "a hello altered on the way fails authentication");
		session_close(&ii);
		session_close(&r);
		close(sp[0]);
		close(sp[1]);
	}
	return (tap_done());
}
