/*
 * dnsd: the messages of a dynamic update (RFC 2136) and their TSIG
 * signature (RFC 8945, hmac-sha256 through libsodium's
 * crypto_auth_hmacsha256_*, which takes a key of any length).
 *
 * An UPDATE holds the zone (SOA, IN), then two updates: delete the
 * name's A (or AAAA) RRset, add the node's address with the TTL.  The
 * name is compressed against the zone, as BIND's nsupdate does, so the
 * bytes are those nsupdate sends (tests/unit/dns.t checks them).
 *
 * A reply is read with every offset checked against its length; names
 * follow compression pointers only backwards, at most 128 of them, and
 * never past 255 bytes.
 */

#include <sys/types.h>
#include <netinet/in.h>

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"

#define T_A		1
#define T_SOA		6
#define T_AAAA		28
#define T_TSIG		250
#define C_IN		1
#define C_ANY		255
#define OP_UPDATE	5
#define ALG		"hmac-sha256"

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static uint16_t
get16(const uint8_t *p)
{
	return ((uint16_t)p[0] << 8 | p[1]);
}

/*
 * A name in wire form at *off; lower makes it canonical (TSIG variables).
 * "." or "" is the root.  -1 when it does not fit or is not a name.
 */
int
dns_name_put(uint8_t *buf, size_t max, size_t *off, const char *name,
    int lower)
{
	const char	*p = name, *dot;
	size_t		 len, total = 0, i;

	while (*p != '\0') {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63 || (total += len + 1) > DNS_MAXNAME ||
		    *off + 1 + len > max)
			return (-1);
		buf[(*off)++] = len;
		for (i = 0; i < len; i++)
			buf[(*off)++] = lower ? tolower((unsigned char)p[i]) :
			    p[i];
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	if (*off + 1 > max)
		return (-1);
	buf[(*off)++] = 0;
	return (0);
}

/* name relative to zone: the labels before it, or -1 if not beneath */
static int
prefix_len(const char *name, const char *zone)
{
	size_t	 nl = strlen(name), zl = strlen(zone);

	if (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (zl > 0 && zone[zl - 1] == '.')
		zl--;
	if (nl <= zl + 1 || name[nl - zl - 1] != '.' ||
	    strncasecmp(name + nl - zl, zone, zl) != 0)
		return (-1);
	return (nl - zl - 1);
}

/* The labels of the first len bytes of name, then a pointer to ptr. */
static int
name_put_ptr(uint8_t *buf, size_t max, size_t *off, const char *name,
    size_t len, uint16_t ptr)
{
	char	 pre[DNS_MAXNAME + 1];

	if (len > DNS_MAXNAME)
		return (-1);
	memcpy(pre, name, len);
	pre[len] = '\0';
	if (dns_name_put(buf, max, off, pre, 0) == -1 || *off + 1 > max)
		return (-1);
	(*off)--;		/* the root label gives way to the pointer */
	put16(buf + *off, 0xc000 | ptr);
	*off += 2;
	return (0);
}

/* The header and the zone section of an UPDATE, with its counts. */
static int
update_head(uint8_t *buf, size_t max, size_t *off, uint16_t id,
    const char *zone, uint16_t prereqs, uint16_t updates)
{
	if (max < 12)
		return (-1);
	memset(buf, 0, 12);
	put16(buf, id);
	put16(buf + 2, OP_UPDATE << 11);
	put16(buf + 4, 1);		/* zone */
	put16(buf + 6, prereqs);
	put16(buf + 8, updates);
	*off = 12;
	if (dns_name_put(buf, max, off, zone, 0) == -1 || *off + 4 > max)
		return (-1);
	put16(buf + *off, T_SOA);
	put16(buf + *off + 2, C_IN);
	*off += 4;
	return (0);
}

/*
 * The UPDATE: 0 when it does not fit or a name is bad.  The update
 * section names the host compressed against the zone, the second time
 * as a pointer to the first.
 */
size_t
dns_update(uint8_t *buf, size_t max, uint16_t id, const char *zone,
    const char *name, const struct fo_addr *addr, uint32_t ttl)
{
	size_t		 off, first;
	uint16_t	 type = addr->af == AF_INET6 ? T_AAAA : T_A;
	size_t		 alen = addr->af == AF_INET6 ? 16 : 4;
	int		 pl;

	if ((pl = prefix_len(name, zone)) == -1 ||
	    update_head(buf, max, &off, id, zone, 0, 2) == -1)
		return (0);

	/* delete the RRset: class ANY, TTL 0, no data */
	first = off;
	if (name_put_ptr(buf, max, &off, name, pl, 12) == -1 ||
	    off + 10 > max)
		return (0);
	put16(buf + off, type);
	put16(buf + off + 2, C_ANY);
	memset(buf + off + 4, 0, 6);
	off += 10;

	/* add the address */
	if (off + 2 + 10 + alen > max)
		return (0);
	put16(buf + off, 0xc000 | first);
	off += 2;
	put16(buf + off, type);
	put16(buf + off + 2, C_IN);
	buf[off + 4] = ttl >> 24;
	buf[off + 5] = ttl >> 16;
	buf[off + 6] = ttl >> 8;
	buf[off + 7] = ttl;
	put16(buf + off + 8, alen);
	off += 10;
	memcpy(buf + off, &addr->a, alen);
	off += alen;
	return (off);
}

/*
 * A check that the name still points here: an UPDATE whose only content
 * is the prerequisite "this RRset exists with exactly this value" (RFC
 * 2136 2.4.2) and whose update section is empty.  The server answers
 * NOERROR when it holds, NXRRSET when not, and changes nothing.
 */
size_t
dns_check(uint8_t *buf, size_t max, uint16_t id, const char *zone,
    const char *name, const struct fo_addr *addr)
{
	size_t		 off;
	uint16_t	 type = addr->af == AF_INET6 ? T_AAAA : T_A;
	size_t		 alen = addr->af == AF_INET6 ? 16 : 4;
	int		 pl;

	if ((pl = prefix_len(name, zone)) == -1 ||
	    update_head(buf, max, &off, id, zone, 1, 0) == -1)
		return (0);
	if (name_put_ptr(buf, max, &off, name, pl, 12) == -1 ||
	    off + 10 + alen > max)
		return (0);
	put16(buf + off, type);
	put16(buf + off + 2, C_IN);
	memset(buf + off + 4, 0, 4);	/* TTL 0 */
	put16(buf + off + 8, alen);
	off += 10;
	memcpy(buf + off, &addr->a, alen);
	off += alen;
	return (off);
}

/* The TSIG variables of RFC 8945 4.3.3, after the message in the MAC. */
static void
tsig_vars(crypto_auth_hmacsha256_state *st, const struct dns_key *k,
    uint64_t t, uint16_t fudge, uint16_t error, const uint8_t *other,
    uint16_t olen)
{
	uint8_t	 v[2 * (DNS_MAXNAME + 1) + 32];
	size_t	 off = 0;

	(void)dns_name_put(v, sizeof(v), &off, k->name, 1);
	put16(v + off, C_ANY);
	memset(v + off + 2, 0, 4);	/* TTL */
	off += 6;
	(void)dns_name_put(v, sizeof(v), &off, ALG, 1);
	v[off++] = t >> 40;
	v[off++] = t >> 32;
	v[off++] = t >> 24;
	v[off++] = t >> 16;
	v[off++] = t >> 8;
	v[off++] = t;
	put16(v + off, fudge);
	put16(v + off + 2, error);
	put16(v + off + 4, olen);
	off += 6;
	crypto_auth_hmacsha256_update(st, v, off);
	if (olen > 0)
		crypto_auth_hmacsha256_update(st, other, olen);
}

/*
 * Sign the message of len bytes in buf (of max): its MAC goes to mac
 * and a TSIG RR to its end, ARCOUNT counting it.  The new length, or 0.
 */
size_t
dns_tsig_sign(uint8_t *buf, size_t len, size_t max, const struct dns_key *k,
    uint64_t t, uint8_t mac[DNS_MACLEN])
{
	crypto_auth_hmacsha256_state	 st;
	size_t				 off = len, rdlen;

	if (len < 12)
		return (0);
	crypto_auth_hmacsha256_init(&st, k->secret, k->len);
	crypto_auth_hmacsha256_update(&st, buf, len);
	tsig_vars(&st, k, t, DNS_FUDGE, 0, NULL, 0);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));

	if (dns_name_put(buf, max, &off, k->name, 0) == -1 || off + 10 > max)
		return (0);
	put16(buf + off, T_TSIG);
	put16(buf + off + 2, C_ANY);
	memset(buf + off + 4, 0, 4);
	rdlen = off + 8;		/* RDLENGTH goes here */
	off += 10;
	if (dns_name_put(buf, max, &off, ALG, 0) == -1 ||
	    off + 6 + 2 + DNS_MACLEN + 6 > max)
		return (0);
	buf[off++] = t >> 40;
	buf[off++] = t >> 32;
	buf[off++] = t >> 24;
	buf[off++] = t >> 16;
	buf[off++] = t >> 8;
	buf[off++] = t;
	put16(buf + off, DNS_FUDGE);
	put16(buf + off + 2, DNS_MACLEN);
	off += 4;
	memcpy(buf + off, mac, DNS_MACLEN);
	off += DNS_MACLEN;
	memcpy(buf + off, buf, 2);	/* original ID */
	put16(buf + off + 2, 0);	/* error */
	put16(buf + off + 4, 0);	/* other len */
	off += 6;
	put16(buf + rdlen, off - rdlen - 2);
	put16(buf + 10, get16(buf + 10) + 1);
	return (off);
}

/* Skip a name at *off; its text (lower case) to out when given. */
static int
name_get(const uint8_t *m, size_t len, size_t *off, char *out, size_t olen)
{
	size_t	 p = *off, end = 0, total = 0, o = 0;
	int	 jumps = 0, jumped = 0;
	uint8_t	 l;

	for (;;) {
		if (p >= len)
			return (-1);
		l = m[p];
		if ((l & 0xc0) == 0xc0) {
			size_t	 q;

			if (p + 1 >= len || ++jumps > 128)
				return (-1);
			q = (size_t)(l & 0x3f) << 8 | m[p + 1];
			if (q >= p)		/* only backwards: no loops */
				return (-1);
			if (!jumped)
				end = p + 2;
			jumped = 1;
			p = q;
			continue;
		}
		if (l & 0xc0)
			return (-1);		/* 0x40, 0x80: not a label */
		if (l == 0) {
			if (!jumped)
				end = p + 1;
			break;
		}
		if (p + 1 + l > len || (total += l + 1) > DNS_MAXNAME)
			return (-1);
		if (out != NULL) {
			size_t	 i;

			if (o + l + 2 > olen)
				return (-1);
			if (o > 0)
				out[o++] = '.';
			for (i = 0; i < l; i++)
				out[o++] = tolower(m[p + 1 + i]);
		}
		p += 1 + l;
	}
	if (out != NULL)
		out[o] = '\0';
	*off = end;
	return (0);
}

static int
bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return (-1);
}

/* The reply: header, sections skipped, the TSIG RR (the last) read. */
int
dns_parse_reply(const uint8_t *m, size_t len, const struct dns_key *k,
    struct dns_reply *r, char *err, size_t errlen)
{
	char		 owner[DNS_MAXNAME + 2], alg[DNS_MAXNAME + 2];
	char		 want[DNS_MAXNAME + 2];
	size_t		 off = 12, rdend, i, at;
	uint32_t	 n;		/* three counts: their sum needs 18 bits */
	uint16_t	 qd, type, rdlen, olen;
	size_t		 wl;

	memset(r, 0, sizeof(*r));
	if (len < 12)
		return (bad(err, errlen, "reply shorter than a header"));
	r->id = get16(m);
	r->qr = m[2] >> 7;
	r->opcode = (m[2] >> 3) & 0xf;
	r->tc = (m[2] >> 1) & 1;
	r->rcode = m[3] & 0xf;
	qd = get16(m + 4);
	n = (uint32_t)get16(m + 6) + get16(m + 8) + get16(m + 10);
	if (r->tc)
		return (0);		/* the caller asks again over TCP */
	for (i = 0; i < qd; i++) {
		if (name_get(m, len, &off, NULL, 0) == -1 || off + 4 > len)
			return (bad(err, errlen, "malformed zone section"));
		off += 4;
	}
	for (i = 0; i < n; i++) {
		at = off;
		if (name_get(m, len, &off, owner, sizeof(owner)) == -1 ||
		    off + 10 > len)
			return (bad(err, errlen, "malformed record"));
		type = get16(m + off);
		rdlen = get16(m + off + 8);
		off += 10;
		if (off + rdlen > len)
			return (bad(err, errlen, "record data past the end"));
		rdend = off + rdlen;
		if (type != T_TSIG) {
			off = rdend;
			continue;
		}
		if (i != (size_t)n - 1 || get16(m + 10) == 0)
			return (bad(err, errlen, "TSIG record not the last"));
		/* its owner is the key's name */
		wl = strlcpy(want, k->name, sizeof(want));
		while (wl > 0 && want[wl - 1] == '.')
			want[--wl] = '\0';
		for (wl = 0; want[wl] != '\0'; wl++)
			want[wl] = tolower((unsigned char)want[wl]);
		if (strcmp(owner, want) != 0)
			return (bad(err, errlen, "TSIG of another key"));
		if (name_get(m, rdend, &off, alg, sizeof(alg)) == -1 ||
		    off + 10 > rdend)
			return (bad(err, errlen, "malformed TSIG record"));
		if (strcmp(alg, ALG) != 0)
			return (bad(err, errlen, "TSIG of another algorithm"));
		r->tsig_time = (uint64_t)get16(m + off) << 32 |
		    (uint64_t)get16(m + off + 2) << 16 | get16(m + off + 4);
		r->tsig_fudge = get16(m + off + 6);
		r->maclen = get16(m + off + 8);
		off += 10;
		if (r->maclen > DNS_MACLEN || off + r->maclen + 6 > rdend)
			return (bad(err, errlen, "malformed TSIG MAC"));
		memcpy(r->mac, m + off, r->maclen);
		off += r->maclen;
		/* the original ID is ours; error and other data follow */
		r->tsig_error = get16(m + off + 2);
		olen = get16(m + off + 4);
		off += 6;
		if (off + olen != rdend)
			return (bad(err, errlen, "malformed TSIG other data"));
		if (olen == 6) {
			r->other_time = (uint64_t)get16(m + off) << 32 |
			    (uint64_t)get16(m + off + 2) << 16 |
			    get16(m + off + 4);
			r->has_other_time = 1;
		}
		r->has_tsig = 1;
		r->tsig_at = at;
		off = rdend;
	}
	if (off != len)
		return (bad(err, errlen, "bytes after the last record"));
	return (0);
}

/*
 * The reply's MAC: over the request's MAC, the reply without its TSIG
 * (ARCOUNT one less, the original ID) and the reply's TSIG variables.
 */
int
dns_tsig_verify(const uint8_t *m, size_t len, const struct dns_reply *r,
    const struct dns_key *k, const uint8_t reqmac[DNS_MACLEN])
{
	crypto_auth_hmacsha256_state	 st;
	uint8_t				 hdr[12], mac[DNS_MACLEN], ml[2];
	const uint8_t			*other = NULL;
	uint16_t			 olen = 0;
	int				 ok;

	if (!r->has_tsig || r->maclen != DNS_MACLEN || r->tsig_at < 12 ||
	    r->tsig_at > len)
		return (0);
	memcpy(hdr, m, 12);
	put16(hdr + 10, get16(hdr + 10) - 1);
	if (r->has_other_time) {
		other = m + len - 6;
		olen = 6;
	}
	crypto_auth_hmacsha256_init(&st, k->secret, k->len);
	put16(ml, DNS_MACLEN);
	crypto_auth_hmacsha256_update(&st, ml, 2);
	crypto_auth_hmacsha256_update(&st, reqmac, DNS_MACLEN);
	crypto_auth_hmacsha256_update(&st, hdr, 12);
	crypto_auth_hmacsha256_update(&st, m + 12, r->tsig_at - 12);
	tsig_vars(&st, k, r->tsig_time, r->tsig_fudge, r->tsig_error, other,
	    olen);
	crypto_auth_hmacsha256_final(&st, mac);
	ok = crypto_verify_32(mac, r->mac) == 0;
	sodium_memzero(&st, sizeof(st));
	return (ok);
}

const char *
dns_rcode_str(int rc)
{
	static const char	*names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
		"REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
		"NOTZONE"
	};

	if (rc >= 0 && rc <= DNS_NOTZONE)
		return (names[rc]);
	switch (rc) {
	case DNS_BADSIG:	return ("BADSIG");
	case DNS_BADKEY:	return ("BADKEY");
	case DNS_BADTIME:	return ("BADTIME");
	default:		return ("unknown error");
	}
}
