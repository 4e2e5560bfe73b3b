/*
 * libFuzzer: the opening of a sync session as the receiver sees it
 * (syncd/session.c): a hello and the handshake messages, then the first
 * frames, all from the input's bytes.  The receiver's key and the one
 * peer it knows are fixed, so a seed made by a real initiator
 * (FUZZ_SESSION_SEED=FILE writes one) takes the fuzzer past the
 * handshake into the secretstream's first frames.
 */

#include <sys/socket.h>

#include <err.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

static uint8_t			 rsk[NOISE_KEYLEN], isk[NOISE_KEYLEN];
static struct session_peer	 rpeer, ipeer;

static void
keys(void)
{
	static int	 done;
	uint8_t		 seed[32];

	if (done++)
		return;
	if (sodium_init() == -1)
		errx(1, "sodium_init");
	memset(seed, 1, sizeof(seed));
	crypto_generichash(rsk, sizeof(rsk), seed, sizeof(seed), NULL, 0);
	memset(seed, 2, sizeof(seed));
	crypto_generichash(isk, sizeof(isk), seed, sizeof(seed), NULL, 0);
	/* what each side pins of the other */
	strlcpy(ipeer.name, "a", sizeof(ipeer.name));	/* the initiator */
	ipeer.npub = 1;
	crypto_scalarmult_base(ipeer.pub[0], isk);
	strlcpy(rpeer.name, "b", sizeof(rpeer.name));
	rpeer.npub = 1;
	crypto_scalarmult_base(rpeer.pub[0], rsk);
	/* a seed: what a real initiator "a" sends, and a first frame */
	if (getenv("FUZZ_SESSION_SEED") != NULL) {
		struct session	 s;
		uint8_t		 buf[4096];
		ssize_t		 n;
		int		 sp[2];
		FILE		*f;

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
			err(1, "socketpair");
		fcntl(sp[0], F_SETFL, O_NONBLOCK);
		session_connect(&s, sp[0], "test", "a", isk, &rpeer);
		(void)session_io(&s);
		if ((n = read(sp[1], buf, sizeof(buf))) <= 0 ||
		    (f = fopen(getenv("FUZZ_SESSION_SEED"), "w")) == NULL ||
		    fwrite(buf, 1, n, f) != (size_t)n || fclose(f) != 0)
			err(1, "seed");
		exit(0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct session	 s;
	uint8_t		 type, body[WIRE_MAXBODY];
	size_t		 blen;
	int		 sp[2], rc, i;

	keys();
	if (len > 1 << 16)
		return (0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		err(1, "socketpair");
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	if (len > 0 && write(sp[0], data, len) != (ssize_t)len)
		err(1, "write");
	shutdown(sp[0], SHUT_WR);
	session_accept(&s, sp[1], "test", rsk, &ipeer, 1);
	while ((rc = session_io(&s)) == 0)
		;
	if (rc == 1) {
		/* open: the frames that follow, decrypted or refused */
		for (i = 0; i < 64; i++) {
			if ((rc = wire_get(&s.w, &type, body, sizeof(body),
			    &blen)) == -1)
				break;
			if (rc == 0 && wire_read(&s.w) != 1)
				break;
		}
	}
	session_close(&s);
	close(sp[0]);
	close(sp[1]);
	return (0);
}
