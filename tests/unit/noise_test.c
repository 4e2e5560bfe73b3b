/*
 * syncd/noise.c against the published test vector of
 * Noise_KK_25519_ChaChaPoly_SHA256 (tests/data, from cacophony), then
 * both sides with random keys and empty payloads as failoverd uses it,
 * a flipped byte in each handshake message, wrong pinned keys and a
 * changed prologue.
 */

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noise.h"
#include "tap.h"

static char	*json;

static char *
slurp(const char *path)
{
	FILE	*f;
	long	 n;
	char	*buf;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if ((buf = calloc(1, n + 1)) == NULL || fread(buf, 1, n, f) != (size_t)n)
		exit(2);
	fclose(f);
	return (buf);
}

/* the hex value of "key" at or after *pos; advances *pos past it */
static size_t
hexval(const char *key, char **pos, uint8_t *out, size_t max)
{
	char	 pat[64], *p, *q;
	size_t	 len;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	if ((p = strstr(*pos, pat)) == NULL)
		return ((size_t)-1);
	p += strlen(pat);
	if ((q = strchr(p, '"')) == NULL)
		return ((size_t)-1);
	if (sodium_hex2bin(out, max, p, q - p, NULL, &len, NULL) != 0)
		return ((size_t)-1);
	*pos = q;
	return (len);
}

static void
test_vector(void)
{
	struct noise_hs		 ini, res;
	struct noise_cipher	 i_send, i_recv, r_send, r_recv;
	uint8_t			 prologue[64], is[32], ie[32], irs[32];
	uint8_t			 rsk[32], re[32], rrs[32], hh[32];
	uint8_t			 payload[128], ct[256], out[256], got[256];
	char			*pos = json;
	size_t			 plen, len, outlen, glen;
	int			 m, ok_all;

	plen = hexval("init_prologue", &pos, prologue, sizeof(prologue));
	pos = json;
	hexval("init_static", &pos, is, 32);
	hexval("init_ephemeral", &pos, ie, 32);
	hexval("init_remote_static", &pos, irs, 32);
	hexval("resp_static", &pos, rsk, 32);
	hexval("resp_ephemeral", &pos, re, 32);
	hexval("resp_remote_static", &pos, rrs, 32);
	hexval("handshake_hash", &pos, hh, 32);

	noise_init(&ini, 1, prologue, plen, is, irs);
	noise_set_ephemeral(&ini, ie);
	noise_init(&res, 0, prologue, plen, rsk, rrs);
	noise_set_ephemeral(&res, re);
	ok(memcmp(ini.s_pub, rrs, 32) == 0 && memcmp(res.s_pub, irs, 32) == 0,
	    "the static keys match each other's pinned public keys");

	for (m = 0; m < 6; m++) {
		struct noise_hs *w = m % 2 == 0 ? &ini : &res;
		struct noise_hs *r = m % 2 == 0 ? &res : &ini;

		len = hexval("payload", &pos, payload, sizeof(payload));
		glen = hexval("ciphertext", &pos, ct, sizeof(ct));
		if (m < 2) {
			ok(noise_write(w, payload, len, out, sizeof(out),
			    &outlen) == 0 && outlen == glen &&
			    memcmp(out, ct, glen) == 0,
			    "handshake message %d (%s) is the vector's, byte "
			    "for byte (%zu bytes)", m + 1, m ? "<- e, ee, se" :
			    "-> e, es, ss", glen);
			ok(noise_read(r, ct, glen, got, sizeof(got), &outlen)
			    == 0 && outlen == len &&
			    memcmp(got, payload, len) == 0,
			    "the other side reads message %d and its payload",
			    m + 1);
			if (m == 1) {
				ok(noise_done(&ini) && noise_done(&res),
				    "both sides are done after two messages");
				ok(memcmp(ini.h, hh, 32) == 0 &&
				    memcmp(res.h, hh, 32) == 0,
				    "both handshake hashes are the vector's");
				noise_split(&ini, &i_send, &i_recv);
				noise_split(&res, &r_send, &r_recv);
			}
			continue;
		}
		ok_all = noise_encrypt(m % 2 == 0 ? &i_send : &r_send, NULL, 0,
		    payload, len, out) == 0 && len + NOISE_TAGLEN == glen &&
		    memcmp(out, ct, glen) == 0;
		ok(ok_all, "transport message %d (%s) is the vector's", m + 1,
		    m % 2 == 0 ? "initiator" : "responder");
		ok(noise_decrypt(m % 2 == 0 ? &r_recv : &i_recv, NULL, 0, ct,
		    glen, got) == 0 && memcmp(got, payload, len) == 0,
		    "and decrypts on the other side");
	}
}

/* Run a handshake with empty payloads; flip one byte of message flip. */
static int
handshake(const uint8_t *pro_i, const uint8_t *pro_r, int flip, size_t at,
    int wrong_key, uint8_t hi[32], uint8_t hr[32])
{
	struct noise_hs	 ini, res;
	uint8_t		 isk[32], ipk[32], rsk[32], rpk[32], other[32], junk[32];
	uint8_t		 msg[128], pl[16];
	size_t		 len, plen;
	int		 rc = -1;

	crypto_box_keypair(ipk, isk);
	crypto_box_keypair(rpk, rsk);
	crypto_box_keypair(other, junk);
	noise_init(&ini, 1, pro_i, strlen((const char *)pro_i), isk,
	    wrong_key == 1 ? other : rpk);
	noise_init(&res, 0, pro_r, strlen((const char *)pro_r), rsk,
	    wrong_key == 2 ? other : ipk);
	if (noise_write(&ini, NULL, 0, msg, sizeof(msg), &len) == -1)
		goto out;
	if (flip == 1)
		msg[at % len] ^= 0x01;
	if (noise_read(&res, msg, len, pl, sizeof(pl), &plen) == -1)
		goto out;
	if (noise_write(&res, NULL, 0, msg, sizeof(msg), &len) == -1)
		goto out;
	if (flip == 2)
		msg[at % len] ^= 0x80;
	if (noise_read(&ini, msg, len, pl, sizeof(pl), &plen) == -1)
		goto out;
	if (hi != NULL) {
		memcpy(hi, ini.h, 32);
		memcpy(hr, res.h, 32);
	}
	rc = 0;
out:
	noise_clear(&ini);
	noise_clear(&res);
	return (rc);
}

static void
test_ours(void)
{
	struct noise_hs		 ini, res;
	struct noise_cipher	 is, ir, rs, rr;
	const uint8_t		*hello = (const uint8_t *)"failoverd 1 c1 a";
	uint8_t			 hi[32], hr[32], isk[32], ipk[32], rsk[32];
	uint8_t			 rpk[32], msg[128], pl[16], ct[64], pt[64];
	size_t			 len, plen, at;
	int			 fails;

	ok(handshake(hello, hello, 0, 0, 0, hi, hr) == 0 &&
	    memcmp(hi, hr, 32) == 0, "empty payloads, random keys: both "
	    "sides agree on the handshake hash");
	for (fails = 0, at = 0; at < 48; at++)
		fails += handshake(hello, hello, 1, at, 0, NULL, NULL) == -1;
	ok(fails == 48, "a flipped byte anywhere in message 1 is refused "
	    "(%d of 48 positions)", fails);
	for (fails = 0, at = 0; at < 48; at++)
		fails += handshake(hello, hello, 2, at, 0, NULL, NULL) == -1;
	ok(fails == 48, "a flipped byte anywhere in message 2 is refused "
	    "(%d of 48 positions)", fails);
	ok(handshake(hello, hello, 0, 0, 2, NULL, NULL) == -1,
	    "a responder that pinned another initiator key refuses message 1");
	ok(handshake(hello, hello, 0, 0, 1, NULL, NULL) == -1,
	    "an initiator that pinned another responder key fails");
	ok(handshake(hello, (const uint8_t *)"failoverd 1 c1 b", 0, 0, 0,
	    NULL, NULL) == -1, "a hello altered on the way (the prologue) "
	    "is refused");

	/* transport both ways, and a replayed message */
	crypto_box_keypair(ipk, isk);
	crypto_box_keypair(rpk, rsk);
	noise_init(&ini, 1, hello, 5, isk, rpk);
	noise_init(&res, 0, hello, 5, rsk, ipk);
	noise_write(&ini, NULL, 0, msg, sizeof(msg), &len);
	noise_read(&res, msg, len, pl, sizeof(pl), &plen);
	noise_write(&res, NULL, 0, msg, sizeof(msg), &len);
	noise_read(&ini, msg, len, pl, sizeof(pl), &plen);
	noise_split(&ini, &is, &ir);
	noise_split(&res, &rs, &rr);
	noise_encrypt(&is, NULL, 0, (const uint8_t *)"hello", 5, ct);
	ok(noise_decrypt(&rr, NULL, 0, ct, 5 + NOISE_TAGLEN, pt) == 0 &&
	    memcmp(pt, "hello", 5) == 0, "initiator to responder");
	ok(noise_decrypt(&rr, NULL, 0, ct, 5 + NOISE_TAGLEN, pt) == -1,
	    "the same message again (a replay) is refused");
	noise_encrypt(&rs, NULL, 0, (const uint8_t *)"world", 5, ct);
	ok(noise_decrypt(&ir, NULL, 0, ct, 5 + NOISE_TAGLEN, pt) == 0 &&
	    memcmp(pt, "world", 5) == 0, "responder to initiator");
	ok(noise_write(&ini, NULL, 0, msg, sizeof(msg), &len) == -1,
	    "no third handshake message");
}

int
main(int argc, char *argv[])
{
	if (argc != 2 || sodium_init() == -1)
		return (2);
	if ((json = slurp(argv[1])) == NULL) {
		printf("not ok 1 - cannot read %s\n1..1\n", argv[1]);
		return (1);
	}
	test_vector();
	test_ours();
	free(json);
	return (tap_done());
}
