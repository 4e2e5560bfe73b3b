/*
 * libFuzzer: syncd's decoding of a frame (syncd/proto.c), the first byte
 * the type, the rest the body; whatever decodes must encode again to the
 * same body.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct proto_msg	 m;
	static uint8_t		 out[65536];
	char			 err[128];
	size_t			 n;

	if (len < 1 || len > 1 + 65536)
		return (0);
	if (proto_decode(data[0], data + 1, len - 1, 4, &m, err,
	    sizeof(err)) == -1)
		return (0);
	m.type = data[0];
	n = proto_encode(&m, out, sizeof(out));
	if (m.type != P_END && m.type != P_DONE &&
	    (n != len - 1 || memcmp(out, data + 1, n) != 0))
		abort();
	return (0);
}
