/*
 * Unit tests of common/imsg.c over real socketpairs: framing, partial
 * reads, descriptor passing, size limits.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "tap.h"

static void
pair(int sp[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1) {
		perror("socketpair");
		exit(2);
	}
}

static void
test_roundtrip(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sp[2], i, bad = 0;
	uint32_t	 v, got;
	ssize_t		 n;

	pair(sp);
	imsgbuf_init(&a, sp[0]);
	imsgbuf_init(&b, sp[1]);
	for (i = 0; i < 100; i++) {
		v = i * 7;
		imsg_compose(&a, 10 + i, i, 0, -1, &v, sizeof(v));
	}
	ok(imsgbuf_queuelen(&a) == 100, "100 messages queued");
	ok(imsgbuf_flush(&a) == 0 && imsgbuf_queuelen(&a) == 0,
	    "flush empties the queue");
	for (i = 0; i < 100; ) {
		if (imsgbuf_read(&b) != 1)
			break;
		while ((n = imsg_get(&b, &imsg)) > 0) {
			if (imsg_get_type(&imsg) != (uint32_t)(10 + i) ||
			    imsg_get_id(&imsg) != (uint32_t)i ||
			    imsg_get_pid(&imsg) != getpid() ||
			    imsg_get_data(&imsg, &got, sizeof(got)) != 0 ||
			    got != (uint32_t)i * 7)
				bad++;
			imsg_free(&imsg);
			i++;
		}
	}
	ok(i == 100 && bad == 0, "100 messages arrive in order, intact "
	    "(%d, %d bad)", i, bad);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sp[0]);
	close(sp[1]);
}

/* A message written one byte at a time is complete only at the end. */
static void
test_partial(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 raw[256], payload[200];
	int		 sp[2], incomplete = 1;
	size_t		 len, i;
	ssize_t		 n;

	memset(payload, 0xa5, sizeof(payload));
	pair(sp);
	imsgbuf_init(&a, -1);
	imsgbuf_init(&b, sp[1]);
	imsg_compose(&a, 7, 0, 0, -1, payload, sizeof(payload));
	len = TAILQ_FIRST(&a.w.bufs)->wpos;
	memcpy(raw, TAILQ_FIRST(&a.w.bufs)->buf, len);
	for (i = 0; i < len; i++) {
		if (write(sp[0], raw + i, 1) != 1)
			exit(2);
		if (imsgbuf_read(&b) != 1)
			break;
		n = imsg_get(&b, &imsg);
		if (i + 1 < len && n != 0)
			incomplete = 0;
		if (i + 1 == len) {
			ok(n == (ssize_t)len, "complete after the last byte");
			ok(imsg_get_len(&imsg) == sizeof(payload) &&
			    memcmp(imsg.data, payload, sizeof(payload)) == 0,
			    "payload intact");
			imsg_free(&imsg);
		}
	}
	ok(incomplete, "no message before the last byte");
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sp[0]);
	close(sp[1]);
}

static void
test_fdpass(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sp[2], p[2], fd, got = 0, i;
	char		 buf[8];
	ssize_t		 n;

	pair(sp);
	imsgbuf_init(&a, sp[0]);
	imsgbuf_init(&b, sp[1]);
	imsgbuf_allow_fdpass(&b);
	/* a plain message, two with descriptors, a plain one */
	imsg_compose(&a, 1, 0, 0, -1, "x", 1);
	for (i = 0; i < 2; i++) {
		if (pipe(p) == -1)
			exit(2);
		if (write(p[1], i ? "second" : "first", i ? 7 : 6) < 0)
			exit(2);
		close(p[1]);
		imsg_compose(&a, 2, i, 0, p[0], NULL, 0);
	}
	imsg_compose(&a, 3, 0, 0, -1, "y", 1);
	imsgbuf_flush(&a);
	while (got < 4 && imsgbuf_read(&b) == 1) {
		while ((n = imsg_get(&b, &imsg)) > 0) {
			got++;
			if (imsg_get_type(&imsg) == 2) {
				fd = imsg_get_fd(&imsg);
				memset(buf, 0, sizeof(buf));
				n = read(fd, buf, sizeof(buf) - 1);
				ok(fd != -1 && strcmp(buf, imsg_get_id(&imsg) ?
				    "second" : "first") == 0,
				    "descriptor %u arrives with its message",
				    imsg_get_id(&imsg));
				ok(imsg_get_fd(&imsg) == -1,
				    "a descriptor is handed out once");
				close(fd);
			} else
				ok(imsg_get_fd(&imsg) == -1,
				    "message %u carries no descriptor",
				    imsg_get_type(&imsg));
			imsg_free(&imsg);
		}
	}
	ok(got == 4, "all four messages");
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sp[0]);
	close(sp[1]);

	/* a receiver that does not allow descriptors refuses them */
	pair(sp);
	imsgbuf_init(&a, sp[0]);
	imsgbuf_init(&b, sp[1]);
	if (pipe(p) == -1)
		exit(2);
	close(p[1]);
	imsg_compose(&a, 2, 0, 0, p[0], NULL, 0);
	imsgbuf_flush(&a);
	ok(imsgbuf_read(&b) == -1 && errno == EBADMSG,
	    "descriptor refused without imsgbuf_allow_fdpass");
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sp[0]);
	close(sp[1]);
}

static void
test_oversize(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	static char	 big[MAX_IMSGSIZE];
	int		 sp[2];

	pair(sp);
	imsgbuf_init(&a, sp[0]);
	imsgbuf_init(&b, sp[1]);
	ok(imsg_compose(&a, 1, 0, 0, -1, big, sizeof(big)) == -1 &&
	    errno == ERANGE, "compose over the maximum size fails");
	ok(imsg_compose(&a, 1, 0, 0, -1, big, sizeof(big) -
	    IMSG_HEADER_SIZE) == 1, "compose at the maximum size works");
	imsgbuf_clear(&a);

	/* a forged header announcing too much is an error, not a wait */
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = 1;
	hdr.len = MAX_IMSGSIZE + 1;
	if (write(sp[0], &hdr, sizeof(hdr)) != sizeof(hdr))
		exit(2);
	imsgbuf_read(&b);
	ok(imsg_get(&b, &imsg) == -1 && errno == ERANGE,
	    "a header announcing more than the maximum is rejected");
	imsgbuf_clear(&b);
	imsgbuf_init(&b, sp[1]);

	/* and one announcing less than a header */
	hdr.len = 3;
	if (write(sp[0], &hdr, sizeof(hdr)) != sizeof(hdr))
		exit(2);
	imsgbuf_read(&b);
	ok(imsg_get(&b, &imsg) == -1 && errno == ERANGE,
	    "a header announcing less than itself is rejected");
	imsgbuf_clear(&b);

	/* a smaller limit per buffer */
	imsgbuf_init(&b, sp[1]);
	ok(imsgbuf_set_maxsize(&b, 64) == 0, "set_maxsize 64");
	ok(imsg_compose(&b, 1, 0, 0, -1, big, 64) == -1,
	    "compose over a lowered maximum fails");
	ok(imsgbuf_set_maxsize(&b, 4) == -1, "a maximum below a header is "
	    "refused");
	imsgbuf_clear(&b);
	close(sp[0]);
	close(sp[1]);
}

static void
test_exact_size(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	uint64_t	 big = 1;
	uint32_t	 small;
	int		 sp[2];

	pair(sp);
	imsgbuf_init(&a, sp[0]);
	imsgbuf_init(&b, sp[1]);
	imsg_compose(&a, 1, 0, 0, -1, &big, sizeof(big));
	imsgbuf_flush(&a);
	imsgbuf_read(&b);
	ok(imsg_get(&b, &imsg) > 0, "message read");
	ok(imsg_get_data(&imsg, &small, sizeof(small)) == -1 &&
	    errno == EBADMSG, "imsg_get_data refuses a message longer than "
	    "the structure");
	imsg_free(&imsg);
	/* and one shorter than the structure: read on, it would take the
	 * bytes past the message's end */
	small = 7;
	big = 0;
	imsg_compose(&a, 1, 0, 0, -1, &small, sizeof(small));
	imsgbuf_flush(&a);
	imsgbuf_read(&b);
	ok(imsg_get(&b, &imsg) > 0, "a message of 4 bytes read");
	ok(imsg_get_data(&imsg, &big, sizeof(big)) == -1 && errno == EBADMSG &&
	    big == 0, "imsg_get_data refuses it for a structure of 8, and "
	    "fills nothing");
	imsg_free(&imsg);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sp[0]);
	close(sp[1]);
}

static void
test_create_add(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*buf;
	char		 out[11];
	int		 sp[2];

	pair(sp);
	imsgbuf_init(&a, sp[0]);
	imsgbuf_init(&b, sp[1]);
	buf = imsg_create(&a, 5, 0, 0, 10);
	ok(buf != NULL, "imsg_create");
	ok(imsg_add(buf, "hello", 5) == 5 && imsg_add(buf, "world", 5) == 5,
	    "imsg_add twice");
	imsg_close(&a, buf);
	imsgbuf_flush(&a);
	imsgbuf_read(&b);
	memset(out, 0, sizeof(out));
	ok(imsg_get(&b, &imsg) > 0 && imsg_get_data(&imsg, out, 10) == 0 &&
	    strcmp(out, "helloworld") == 0, "create/add/close compose one "
	    "message");
	imsg_free(&imsg);
	buf = imsg_create(&a, 5, 0, 0, 4);
	ok(imsg_add(buf, "toolong", 7) == -1, "imsg_add past the announced "
	    "size fails");
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);

	/* EOF */
	close(sp[0]);
	imsgbuf_init(&b, sp[1]);
	ok(imsgbuf_read(&b) == 0, "imsgbuf_read returns 0 at EOF");
	imsgbuf_clear(&b);
	close(sp[1]);
}

int
main(void)
{
	test_roundtrip();
	test_partial();
	test_fdpass();
	test_oversize();
	test_exact_size();
	test_create_add();
	return (tap_done());
}
