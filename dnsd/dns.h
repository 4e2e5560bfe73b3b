/*
 * dnsd: RFC 2136 UPDATE messages signed with TSIG hmac-sha256 (RFC 8945),
 * and the parsing of the replies, every read bounds-checked.
 */

#ifndef DNS_H
#define DNS_H

#include <stddef.h>
#include <stdint.h>

#include "failoverd.h"

#define DNS_MAXMSG	65535
#define DNS_UDPMAX	512
#define DNS_MAXNAME	255
#define DNS_FUDGE	300
#define DNS_MACLEN	32	/* HMAC-SHA256 */
#define DNS_MAXKEY	128	/* bytes of a TSIG secret */

/* RCODEs and TSIG errors */
#define DNS_NOERROR	0
#define DNS_FORMERR	1
#define DNS_SERVFAIL	2
#define DNS_NXDOMAIN	3
#define DNS_NOTIMP	4
#define DNS_REFUSED	5
#define DNS_YXDOMAIN	6
#define DNS_YXRRSET	7
#define DNS_NXRRSET	8
#define DNS_NOTAUTH	9
#define DNS_NOTZONE	10
#define DNS_BADSIG	16
#define DNS_BADKEY	17
#define DNS_BADTIME	18

struct dns_key {
	char		 name[DNS_MAXNAME + 1];
	uint8_t		 secret[DNS_MAXKEY];
	size_t		 len;
};

struct dns_reply {
	uint16_t	 id;
	int		 qr;
	int		 opcode;
	int		 tc;
	int		 rcode;
	int		 has_tsig;
	int		 tsig_error;
	uint64_t	 tsig_time;
	uint16_t	 tsig_fudge;
	uint8_t		 mac[DNS_MACLEN];
	size_t		 maclen;
	size_t		 tsig_at;	/* where the TSIG RR starts */
	uint64_t	 other_time;	/* BADTIME: the server's clock */
	int		 has_other_time;
};

size_t	 dns_update(uint8_t *, size_t, uint16_t, const char *, const char *,
	    const struct fo_addr *, uint32_t);
size_t	 dns_check(uint8_t *, size_t, uint16_t, const char *, const char *,
	    const struct fo_addr *);
size_t	 dns_tsig_sign(uint8_t *, size_t, size_t, const struct dns_key *,
	    uint64_t, uint8_t [DNS_MACLEN]);
int	 dns_parse_reply(const uint8_t *, size_t, const struct dns_key *,
	    struct dns_reply *, char *, size_t);
int	 dns_tsig_verify(const uint8_t *, size_t, const struct dns_reply *,
	    const struct dns_key *, const uint8_t [DNS_MACLEN]);
const char *dns_rcode_str(int);
int	 dns_name_put(uint8_t *, size_t, size_t *, const char *, int);

#endif /* DNS_H */
