/*
 * dnsd's messages: an UPDATE and its TSIG byte for byte as BIND's
 * nsupdate sent them (tests/data/nsupdate-hmac-sha256.bin, captured
 * once with a fixed key; the ID and time are read from it), the MAC of a
 * reply checked, and hand-made bad replies refused without reading out
 * of bounds.
 */

#include <arpa/inet.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "tap.h"

/* the key given to nsupdate: -y hmac-sha256:ddns:BASE64 */
#define SECRET_B64	"c2VjcmV0LWtleS1mb3ItZmFpbG92ZXJkLXRlc3RzLTMyYg=="

static struct dns_key	 key;

static size_t
slurp(const char *path, uint8_t *buf, size_t max)
{
	FILE	*f = fopen(path, "rb");
	size_t	 n;

	if (f == NULL)
		return (0);
	n = fread(buf, 1, max, f);
	fclose(f);
	return (n);
}

/* A server's signed reply to a request with MAC reqmac. */
static size_t
server_reply(uint8_t *m, uint16_t id, int rcode, int tsig_error,
    const uint8_t reqmac[DNS_MACLEN], uint64_t t, int corrupt)
{
	crypto_auth_hmacsha256_state	 st;
	uint8_t				 mac[DNS_MACLEN], v[512], ml[2];
	size_t				 off = 12, vo = 0, n;

	memset(m, 0, 12);
	m[0] = id >> 8; m[1] = id;
	m[2] = 0x80 | (5 << 3);
	m[3] = rcode;
	m[5] = 1;				/* the zone */
	dns_name_put(m, 512, &off, "example.com", 0);
	m[off++] = 0; m[off++] = 6; m[off++] = 0; m[off++] = 1;
	n = off;
	/* MAC: request MAC, the reply, the TSIG variables */
	dns_name_put(v, sizeof(v), &vo, "ddns", 1);
	v[vo++] = 0; v[vo++] = 255; memset(v + vo, 0, 4); vo += 4;
	dns_name_put(v, sizeof(v), &vo, "hmac-sha256", 1);
	v[vo++] = t >> 40; v[vo++] = t >> 32; v[vo++] = t >> 24;
	v[vo++] = t >> 16; v[vo++] = t >> 8; v[vo++] = t;
	v[vo++] = 1; v[vo++] = 44;		/* fudge 300 */
	v[vo++] = tsig_error >> 8; v[vo++] = tsig_error;
	v[vo++] = 0; v[vo++] = 0;
	crypto_auth_hmacsha256_init(&st, key.secret, key.len);
	ml[0] = 0; ml[1] = DNS_MACLEN;
	crypto_auth_hmacsha256_update(&st, ml, 2);
	crypto_auth_hmacsha256_update(&st, reqmac, DNS_MACLEN);
	crypto_auth_hmacsha256_update(&st, m, n);
	crypto_auth_hmacsha256_update(&st, v, vo);
	crypto_auth_hmacsha256_final(&st, mac);
	if (corrupt)
		mac[0] ^= 1;
	/* the TSIG RR */
	dns_name_put(m, 512, &off, "ddns", 0);
	m[off++] = 0; m[off++] = 250; m[off++] = 0; m[off++] = 255;
	memset(m + off, 0, 4); off += 4;
	{
		size_t	 rd = off;

		off += 2;
		dns_name_put(m, 512, &off, "hmac-sha256", 0);
		m[off++] = t >> 40; m[off++] = t >> 32; m[off++] = t >> 24;
		m[off++] = t >> 16; m[off++] = t >> 8; m[off++] = t;
		m[off++] = 1; m[off++] = 44;
		m[off++] = 0; m[off++] = DNS_MACLEN;
		memcpy(m + off, mac, DNS_MACLEN); off += DNS_MACLEN;
		m[off++] = id >> 8; m[off++] = id;
		m[off++] = tsig_error >> 8; m[off++] = tsig_error;
		m[off++] = 0; m[off++] = 0;
		m[rd] = (off - rd - 2) >> 8; m[rd + 1] = off - rd - 2;
	}
	m[11] = 1;
	return (off);
}

static int
refused(const uint8_t *m, size_t len, const char *what)
{
	struct dns_reply	 r;
	char			 err[128];
	int			 rc;

	rc = dns_parse_reply(m, len, &key, &r, err, sizeof(err));
	if (rc == -1)
		printf("# %s: %s\n", what, err);
	return (rc == -1);
}

int
main(int argc, char *argv[])
{
	uint8_t			 cap[1024], buf[1024], mac[DNS_MACLEN];
	uint8_t			 rep[512], bad[512];
	struct fo_addr		 a;
	struct dns_reply	 r;
	char			 err[128];
	size_t			 caplen, n, m, len;
	uint16_t		 id;
	uint64_t		 t;

	if (sodium_init() == -1 || argc != 3)
		return (2);
	strlcpy(key.name, "ddns", sizeof(key.name));
	sodium_base642bin(key.secret, sizeof(key.secret), SECRET_B64,
	    strlen(SECRET_B64), NULL, &key.len, NULL,
	    sodium_base64_VARIANT_ORIGINAL);
	caplen = slurp(argv[1], cap, sizeof(cap));
	ok(caplen == 138, "nsupdate's UPDATE read (%zu bytes)", caplen);

	/* the ID and the time signed are nsupdate's */
	id = cap[0] << 8 | cap[1];
	t = (uint64_t)cap[0x5a] << 40 | (uint64_t)cap[0x5b] << 32 |
	    (uint64_t)cap[0x5c] << 24 | (uint64_t)cap[0x5d] << 16 |
	    (uint64_t)cap[0x5e] << 8 | cap[0x5f];
	memset(&a, 0, sizeof(a));
	a.af = AF_INET;
	inet_pton(AF_INET, "192.0.2.11", &a.a.v4);
	n = dns_update(buf, sizeof(buf), id, "example.com", "nfa.example.com",
	    &a, 30);
	printf("# UPDATE of %zu bytes\n", n);
	ok(n == 0x3d && memcmp(buf + 12, cap + 12, n - 12) == 0 &&
	    memcmp(buf, cap, 10) == 0, "the UPDATE is nsupdate's, byte for "
	    "byte (zone, delete RRset, add with TTL 30, names compressed)");
	m = dns_tsig_sign(buf, n, sizeof(buf), &key, t, mac);
	ok(m == caplen && memcmp(buf, cap, caplen) == 0,
	    "signed with TSIG hmac-sha256: the same %zu bytes, MAC included",
	    m);
	ok(dns_update(buf, sizeof(buf), 1, "example.com", "nfa.other.org",
	    &a, 30) == 0, "a name outside the zone is refused");
	ok(dns_update(buf, 40, 1, "example.com", "nfa.example.com", &a,
	    30) == 0, "a buffer too small is refused");

	/* the check while active: nsupdate's "prereq yxrrset NAME A ADDR" */
	caplen = slurp(argv[2], cap, sizeof(cap));
	n = dns_check(buf, sizeof(buf), cap[0] << 8 | cap[1], "example.com",
	    "nfa.example.com", &a);
	ok(caplen == 49 && n == caplen && memcmp(buf, cap, n) == 0,
	    "the check is nsupdate's prerequisite-only UPDATE, byte for byte "
	    "(%zu bytes)", n);
	ok(dns_check(buf, sizeof(buf), 1, "example.com", "nfa.other.org",
	    &a) == 0 && dns_check(buf, 40, 1, "example.com",
	    "nfa.example.com", &a) == 0,
	    "a check outside the zone or too large is refused");

	/* a signed reply verifies; a forged or foreign one does not */
	len = server_reply(rep, id, 0, 0, mac, t, 0);
	ok(dns_parse_reply(rep, len, &key, &r, err, sizeof(err)) == 0 &&
	    r.id == id && r.qr && r.opcode == 5 && r.rcode == 0 &&
	    r.has_tsig, "a NOERROR reply with its TSIG parses");
	ok(dns_tsig_verify(rep, len, &r, &key, mac), "its MAC verifies");
	len = server_reply(rep, id, 0, 0, mac, t, 1);
	dns_parse_reply(rep, len, &key, &r, err, sizeof(err));
	ok(!dns_tsig_verify(rep, len, &r, &key, mac), "a bad MAC does not");
	len = server_reply(rep, id, 0, 0, mac, t, 0);
	rep[3] = 5;			/* REFUSED, after signing */
	dns_parse_reply(rep, len, &key, &r, err, sizeof(err));
	ok(!dns_tsig_verify(rep, len, &r, &key, mac), "nor a changed rcode");
	len = server_reply(rep, id, 0, 0, mac, t, 0);
	len -= 44 + 10 + 6;		/* no TSIG at all */
	rep[11] = 0;
	ok(dns_parse_reply(rep, 12 + 17, &key, &r, err, sizeof(err)) == 0 &&
	    !r.has_tsig && !dns_tsig_verify(rep, 12 + 17, &r, &key, mac),
	    "an unsigned reply is not trusted");
	len = server_reply(rep, id, 0, DNS_BADTIME, mac, t, 0);
	ok(dns_parse_reply(rep, len, &key, &r, err, sizeof(err)) == 0 &&
	    r.tsig_error == DNS_BADTIME && dns_tsig_verify(rep, len, &r,
	    &key, mac), "a signed BADTIME is read and verifies");
	{
		struct dns_key	 other = key;

		other.secret[0] ^= 1;
		len = server_reply(rep, id, 0, 0, mac, t, 0);
		dns_parse_reply(rep, len, &key, &r, err, sizeof(err));
		ok(!dns_tsig_verify(rep, len, &r, &other, mac),
		    "with another secret the MAC does not verify");
	}

	/* malformed replies: refused, never read past the end */
	len = server_reply(rep, id, 0, 0, mac, t, 0);
	ok(refused(rep, 11, "short"), "shorter than a header");
	ok(refused(rep, len - 1, "cut"), "cut short in the TSIG");
	ok(refused(rep, 20, "cut in the zone"), "cut short in the zone name");
	/* 65535 answers + 1 + the TSIG: counts that wrapped made it last */
	len = server_reply(rep, id, 0, 0, mac, t, 0);
	rep[6] = 0xff; rep[7] = 0xff; rep[8] = 0; rep[9] = 1;
	ok(refused(rep, len, "counts"), "record counts that add up past "
	    "65535 do not wrap");
	memcpy(bad, rep, len);
	bad[len] = 0;
	ok(refused(bad, len + 1, "trailing"), "a byte after the last record");
	memcpy(bad, rep, len);
	bad[12] = 0xc0; bad[13] = 12;	/* a pointer to itself */
	ok(refused(bad, len, "loop"), "a compression pointer to itself");
	memcpy(bad, rep, len);
	bad[12] = 0xc0; bad[13] = 40;	/* a pointer forwards */
	ok(refused(bad, len, "forward"), "a pointer forwards");
	memcpy(bad, rep, len);
	bad[12] = 0x40;			/* reserved label type */
	ok(refused(bad, len, "label type"), "a label of a reserved type");
	memcpy(bad, rep, len);
	bad[12] = 63;			/* a label longer than the message */
	ok(refused(bad, 12 + 30, "long label"), "a label past the end");
	memcpy(bad, rep, len);
	bad[7] = 1;			/* one more record than there is */
	ok(refused(bad, len, "count"), "a count beyond the records");
	{
		/* a name of 300 bytes through pointers */
		size_t	 o = 12, i;

		memset(bad, 0, sizeof(bad));
		bad[5] = 1;
		for (i = 0; i < 5; i++) {
			bad[o++] = 63;
			memset(bad + o, 'a', 63);
			o += 63;
		}
		bad[o++] = 0;
		bad[o++] = 0; bad[o++] = 6; bad[o++] = 0; bad[o++] = 1;
		ok(refused(bad, o, "300"), "a name over 255 bytes");
	}
	memcpy(bad, rep, len);
	bad[2] |= 0x02;			/* TC */
	ok(dns_parse_reply(bad, len, &key, &r, err, sizeof(err)) == 0 &&
	    r.tc, "a truncated reply is seen as such (TCP next)");
	return (tap_done());
}
