/*
 * libFuzzer: the imsg reader (common/imsg.c) on a stream of the input's
 * bytes, as a child or the monitor reads its socket: every message it
 * returns lies within what was read, and an oversized or short one is an
 * error, never a crash or an overread.
 */

#include <sys/socket.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	uint8_t		 buf[64];
	size_t		 off = 0, chunk;
	ssize_t		 n;
	int		 sp[2], done = 0;

	if (len > 1 << 16)
		return (0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		err(1, "socketpair");
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	if (imsgbuf_init(&ib, sp[1]) == -1)
		err(1, "imsgbuf_init");
	/* the first byte says how the stream is cut into writes */
	chunk = len > 0 ? (size_t)data[0] * 64 + 1 : 1;
	while (!done) {
		if (off < len) {
			size_t	 w = len - off < chunk ? len - off : chunk;

			if ((n = write(sp[0], data + off, w)) > 0)
				off += n;
			if (off == len)
				shutdown(sp[0], SHUT_WR);
		}
		if ((n = imsgbuf_read(&ib)) == -1 || n == 0)
			break;
		for (;;) {
			if ((n = imsg_get(&ib, &imsg)) == -1) {
				done = 1;
				break;
			}
			if (n == 0)
				break;
			if (imsg_get_len(&imsg) > MAX_IMSGSIZE - IMSG_HEADER_SIZE)
				abort();
			(void)imsg_get_data(&imsg, buf, sizeof(buf));
			if (imsg_get_len(&imsg) > 0)
				memcpy(buf, imsg.data, imsg_get_len(&imsg) <
				    sizeof(buf) ? imsg_get_len(&imsg) :
				    sizeof(buf));
			imsg_free(&imsg);
		}
		if (off == len && ib.rlen == 0)
			break;
	}
	imsgbuf_clear(&ib);
	close(sp[0]);
	close(sp[1]);
	return (0);
}
