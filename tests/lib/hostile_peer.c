/*
 * A hostile sync peer, for the tests: it holds a node's key and speaks
 * the protocol of syncd/PROTOCOL correctly up to the point where it
 * misbehaves, then reports how the real syncd on the other end reacted.
 *
 *   hostile_peer send ADDR PORT CLUSTER NODE KEYFILE PEER PEERPUB EPOCH
 *       NDIRS SCENARIO
 *	connects to a standby as NODE (the lease holder at EPOCH), reads
 *	its manifest, then plays SCENARIO as the sender
 *   hostile_peer recv ADDR PORT CLUSTER NODE KEYFILE PEER PEERPUB 0
 *       NDIRS SCENARIO
 *	listens on ADDR PORT as NODE (a standby), takes one session from
 *	the active PEER, then plays SCENARIO as the receiver
 *
 * It prints one line: "closed after N frames: REASON" (the peer's REFUSE
 * reason, or "eof") or "open after N frames" when the peer did not end
 * the session within 10 s of the last frame.  Exit 0 if it could play.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "session.h"
#include "util.h"

static struct session	 s;
static uint8_t		 body[WIRE_MAXBODY];
static unsigned long	 nsent;
static char		 refused[300];
static int		 closed;

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Read what came; note a REFUSE or the end.  0 open, -1 ended. */
static int
drain(unsigned int ndirs, struct proto_msg *last)
{
	struct proto_msg	 m;
	uint8_t			 type;
	size_t			 len;
	char			 why[128];
	int			 rc;

	if (closed)
		return (-1);
	/* what came before the end still counts: a REFUSE, then EOF */
	if (wire_read(&s.w) <= 0)
		closed = 1;
	while ((rc = wire_get(&s.w, &type, body, sizeof(body), &len)) == 1) {
		if (proto_decode(type, body, len, ndirs, &m, why,
		    sizeof(why)) == -1)
			errx(2, "the peer sent a bad frame: %s", why);
		if (m.type == P_REFUSE)
			snprintf(refused, sizeof(refused), "%s", m.reason);
		if (last != NULL)
			*last = m;
	}
	if (rc == -1)
		closed = 1;
	return (closed ? -1 : 0);
}

/* One frame out, written whole; -1 once the peer ended the session. */
static int
put(const struct proto_msg *m)
{
	size_t	 n;

	if (closed)
		return (-1);
	n = proto_encode(m, body, sizeof(body));
	if (wire_send(&s.w, m->type, body, n, 0) == -1)
		errx(2, "wire_send");
	while (wire_pending(&s.w)) {
		struct pollfd	 pfd = { s.fd, POLLOUT | POLLIN, 0 };

		if (wire_flush(&s.w) == -1) {
			closed = 1;
			return (-1);
		}
		if (!wire_pending(&s.w))
			break;
		poll(&pfd, 1, 1000);
		if (drain(255, NULL) == -1)
			return (-1);
	}
	nsent++;
	return (0);
}

/* The rest: wait up to 10 s for the peer to end the session. */
static void
verdict(void)
{
	uint64_t	 until = mono_ms() + 10000;

	while (!closed && mono_ms() < until) {
		struct pollfd	 pfd = { s.fd, POLLIN, 0 };

		poll(&pfd, 1, 100);
		(void)drain(255, NULL);
	}
	if (closed)
		printf("closed after %lu frames: %s\n", nsent,
		    refused[0] ? refused : "eof");
	else
		printf("open after %lu frames\n", nsent);
}

static void
open_session(int fd, int initiator, const char *cluster, const char *node,
    const uint8_t sk[32], const struct session_peer *peer)
{
	struct pollfd	 pfd = { fd, POLLIN | POLLOUT, 0 };
	uint64_t	 until = mono_ms() + 10000;
	int		 rc;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (initiator)
		session_connect(&s, fd, cluster, node, sk, peer);
	else
		session_accept(&s, fd, cluster, sk, peer, 1);
	while ((rc = session_io(&s)) == 0) {
		if (mono_ms() > until)
			errx(2, "no session within 10 s");
		poll(&pfd, 1, 100);
	}
	if (rc == -1)
		errx(2, "handshake: %s", s.error);
}

/* The END of a file that held data: its hash, as a sender reads it. */
static void
end_of(struct proto_msg *m, const void *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->type = P_END;
	crypto_generichash(m->hash, sizeof(m->hash), data, len, NULL, 0);
}

static void
path_n(char *p, size_t len, const char *prefix, unsigned long i)
{
	snprintf(p, len, "%s%09lu", prefix, i);
}

/* As the sender, after the receiver's manifest. */
static void
play_sender(const char *scenario, unsigned int ndirs)
{
	struct proto_msg	 m;
	unsigned long		 i;

	if (strcmp(scenario, "batch") == 0) {
		/* files past a batch's 1,000 without a COMMIT */
		for (i = 0; i < 1100; i++) {
			memset(&m, 0, sizeof(m));
			m.type = P_BEGIN;
			path_n(m.path, sizeof(m.path), "hostile-", i);
			m.mode = 0644;
			m.size = 1;
			if (put(&m) == -1)
				break;
			memset(&m, 0, sizeof(m));
			m.type = P_DATA;
			m.data = (const uint8_t *)"x";
			m.datalen = 1;
			if (put(&m) == -1)
				break;
			end_of(&m, "x", 1);
			if (put(&m) == -1 || drain(ndirs, NULL) == -1)
				break;
		}
	} else if (strcmp(scenario, "order") == 0) {
		/* DATA of no file begun */
		memset(&m, 0, sizeof(m));
		m.type = P_DATA;
		m.data = (const uint8_t *)"x";
		m.datalen = 1;
		put(&m);
	} else if (strcmp(scenario, "seq") == 0) {
		/* a COMMIT out of sequence */
		memset(&m, 0, sizeof(m));
		m.type = P_COMMIT;
		m.seq = 7;
		put(&m);
	} else if (strcmp(scenario, "overrun") == 0) {
		/* more DATA than the file's size */
		memset(&m, 0, sizeof(m));
		m.type = P_BEGIN;
		strlcpy(m.path, "hostile-overrun", sizeof(m.path));
		m.mode = 0644;
		m.size = 1;
		put(&m);
		memset(&m, 0, sizeof(m));
		m.type = P_DATA;
		m.data = (const uint8_t *)"xyz";
		m.datalen = 3;
		put(&m);
	} else if (strcmp(scenario, "badhash") == 0) {
		/* a file whose END names other content than its DATA */
		memset(&m, 0, sizeof(m));
		m.type = P_BEGIN;
		strlcpy(m.path, "hostile-badhash", sizeof(m.path));
		m.mode = 0644;
		m.size = 1;
		put(&m);
		memset(&m, 0, sizeof(m));
		m.type = P_DATA;
		m.data = (const uint8_t *)"x";
		m.datalen = 1;
		put(&m);
		end_of(&m, "y", 1);
		put(&m);
		memset(&m, 0, sizeof(m));
		m.type = P_COMMIT;
		m.seq = 1;
		put(&m);
	} else if (strcmp(scenario, "reserved") == 0) {
		/* a name that is syncd's: the attic */
		memset(&m, 0, sizeof(m));
		m.type = P_BEGIN;
		strlcpy(m.path, ".failoverd-attic/9/planted", sizeof(m.path));
		m.mode = 0644;
		m.size = 1;
		put(&m);
	} else
		errx(2, "no sender scenario %s", scenario);
}

/* As the receiver, after the sender's FENCE. */
static void
play_receiver(const char *scenario, unsigned int ndirs)
{
	struct proto_msg	 m;
	unsigned long		 i;

	(void)ndirs;
	if (strcmp(scenario, "manifest") == 0) {
		/* a manifest that does not end */
		for (i = 0; i < 3000000; i++) {
			memset(&m, 0, sizeof(m));
			m.type = P_ENTRY;
			m.ftype = SCAN_FILE;
			m.mode = 0644;
			path_n(m.path, sizeof(m.path), "f", i);
			if (put(&m) == -1)
				break;
			if (i % 1024 == 0 && drain(ndirs, NULL) == -1)
				break;
		}
	} else if (strcmp(scenario, "unsorted") == 0) {
		memset(&m, 0, sizeof(m));
		m.type = P_ENTRY;
		m.ftype = SCAN_FILE;
		strlcpy(m.path, "b", sizeof(m.path));
		put(&m);
		strlcpy(m.path, "a", sizeof(m.path));
		put(&m);
	} else if (strcmp(scenario, "forge") == 0) {
		/* a reason that would start a line of its own in the log */
		memset(&m, 0, sizeof(m));
		m.type = P_REFUSE;
		strlcpy(m.reason, "no\nsyncd: a forged line", sizeof(m.reason));
		put(&m);
	} else
		errx(2, "no receiver scenario %s", scenario);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct session_peer	 peer;
	struct proto_msg	 m;
	uint8_t			 sk[32];
	char			 ebuf[256];
	unsigned int		 ndirs, seen = 0;
	int			 fd, lfd, one = 1, sender;

	if (argc != 12 || (strcmp(argv[1], "send") != 0 &&
	    strcmp(argv[1], "recv") != 0))
		errx(2, "usage: hostile_peer send|recv ADDR PORT CLUSTER NODE "
		    "KEYFILE PEER PEERPUB EPOCH NDIRS SCENARIO");
	if (sodium_init() == -1)
		errx(2, "sodium_init");
	sender = strcmp(argv[1], "send") == 0;
	if (key_file_read(argv[6], sk, 0, ebuf, sizeof(ebuf)) == -1)
		errx(2, "%s", ebuf);
	memset(&peer, 0, sizeof(peer));
	strlcpy(peer.name, argv[7], sizeof(peer.name));
	peer.npub = 1;
	if (key_b64_decode(argv[8], peer.pub[0]) == -1)
		errx(2, "bad public key %s", argv[8]);
	ndirs = atoi(argv[10]);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
		errx(2, "bad address %s", argv[2]);

	if (sender) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			err(2, "connect");
		open_session(fd, 1, argv[4], argv[5], sk, &peer);
		memset(&m, 0, sizeof(m));
		m.type = P_FENCE;
		strlcpy(m.node, argv[5], sizeof(m.node));
		m.epoch = strtoll(argv[9], NULL, 10);
		put(&m);
		/* the receiver's manifest, to its last MEND */
		while (seen < ndirs && !closed) {
			struct pollfd	 pfd = { fd, POLLIN, 0 };

			memset(&m, 0, sizeof(m));
			poll(&pfd, 1, 1000);
			if (drain(ndirs, &m) == -1)
				break;
			if (m.type == P_MEND)
				seen++;
		}
		if (closed)
			errx(2, "closed before its manifest: %s", refused);
		nsent = 0;	/* the scenario's frames only */
		play_sender(argv[11], ndirs);
	} else {
		if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			err(2, "socket");
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(lfd, 1) == -1 || (fd = accept(lfd, NULL,
		    NULL)) == -1)
			err(2, "listen");
		open_session(fd, 0, argv[4], argv[5], sk, &peer);
		while (!closed) {
			struct pollfd	 pfd = { fd, POLLIN, 0 };

			memset(&m, 0, sizeof(m));
			poll(&pfd, 1, 1000);
			if (drain(ndirs, &m) == 0 && m.type == P_FENCE)
				break;
		}
		play_receiver(argv[11], ndirs);
	}
	verdict();
	return (0);
}
