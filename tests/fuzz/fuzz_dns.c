/*
 * libFuzzer: dnsd's reading of a reply (netd/dns.c) must refuse or
 * accept any bytes without reading out of bounds, and verify a MAC only
 * over what it parsed.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct dns_key	 key = { "ddns", "secret", 6 };
	static const uint8_t	 reqmac[DNS_MACLEN];
	struct dns_reply	 r;
	char			 err[128];

	if (dns_parse_reply(data, len, &key, &r, err, sizeof(err)) == 0)
		(void)dns_tsig_verify(data, len, &r, &key, reqmac);
	return (0);
}
