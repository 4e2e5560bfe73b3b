/*
 * syncd/proto.c: every frame type survives encode and decode; a short
 * frame (cut at every length), trailing bytes, an unknown type, a
 * directory index not configured, a bad mode, a NUL in a string and
 * every kind of bad path are refused; a hard link's target is a path of
 * the tree like any other, and not the link itself.
 */

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

static uint8_t	 buf[70000], big[70000];

static int
roundtrip(struct proto_msg *m, struct proto_msg *out)
{
	char	 err[128];
	size_t	 n;

	if ((n = proto_encode(m, buf, sizeof(buf))) == 0 && m->type != P_END &&
	    m->type != P_DONE)
		return (-1);
	return (proto_decode(m->type, buf, n, 2, out, err, sizeof(err)));
}

static int
refused(struct proto_msg *m, const char *why)
{
	struct proto_msg	 out;
	char			 err[128];
	size_t			 n;

	n = proto_encode(m, buf, sizeof(buf));
	if (proto_decode(m->type, buf, n, 2, &out, err, sizeof(err)) != -1)
		return (0);
	return (strstr(err, why) != NULL);
}

int
main(void)
{
	struct proto_msg	 m, o;
	char			 err[128];
	uint8_t			 data[100];
	size_t			 n, cut;
	int			 t, ok_all;

	memset(&m, 0, sizeof(m));
	m.type = P_BEGIN;
	m.dir = 1;
	m.mode = 0755;
	m.size = 123456789012ULL;
	m.mtime_ns = 1700000000123456789LL;
	memset(m.hash, 0xab, sizeof(m.hash));
	strlcpy(m.path, "conf/app.ini", sizeof(m.path));
	ok(roundtrip(&m, &o) == 0 && o.dir == 1 && o.mode == 0755 &&
	    o.size == m.size && o.mtime_ns == m.mtime_ns &&
	    memcmp(o.hash, m.hash, 32) == 0 && strcmp(o.path, m.path) == 0,
	    "BEGIN survives encode and decode");
	m.type = P_ENTRY;
	m.ftype = SCAN_LINK;
	strlcpy(m.target, "../shared/x", sizeof(m.target));
	ok(roundtrip(&m, &o) == 0 && o.ftype == SCAN_LINK &&
	    strcmp(o.target, "../shared/x") == 0, "ENTRY of a link, with its "
	    "target");
	m.ftype = SCAN_HLINK;
	strlcpy(m.target, "conf/first.ini", sizeof(m.target));
	ok(roundtrip(&m, &o) == 0 && o.ftype == SCAN_HLINK &&
	    strcmp(o.target, "conf/first.ini") == 0, "ENTRY of a hard link, "
	    "with the path of its first name");
	strlcpy(m.target, "../shared/x", sizeof(m.target));
	ok(refused(&m, "bad hard link target"), "a hard link's target is a "
	    "path beneath the directory");
	memset(&m, 0, sizeof(m));
	m.type = P_HLINK;
	m.dir = 1;
	strlcpy(m.path, "b/second", sizeof(m.path));
	strlcpy(m.target, "a/first", sizeof(m.target));
	ok(roundtrip(&m, &o) == 0 && o.dir == 1 &&
	    strcmp(o.path, "b/second") == 0 && strcmp(o.target, "a/first") == 0,
	    "HLINK {dir, path, target}");
	strlcpy(m.target, "/etc/shadow", sizeof(m.target));
	ok(refused(&m, "bad hard link target"), "an absolute target is refused");
	strlcpy(m.target, "a/../../x", sizeof(m.target));
	ok(refused(&m, "bad hard link target"), "a target with .. is refused");
	strlcpy(m.target, ".failoverd-attic/1/x", sizeof(m.target));
	ok(refused(&m, "bad hard link target"), "a target in the attic is refused");
	strlcpy(m.target, "b/second", sizeof(m.target));
	ok(refused(&m, "bad hard link target"), "a link to itself is refused");
	m.target[0] = '\0';
	ok(refused(&m, "bad hard link target"), "an empty target is refused");
	memset(&m, 0, sizeof(m));
	m.type = P_FENCE;
	strlcpy(m.node, "nfa1", sizeof(m.node));
	m.epoch = 42;
	ok(roundtrip(&m, &o) == 0 && strcmp(o.node, "nfa1") == 0 &&
	    o.epoch == 42, "FENCE {node, epoch}");
	memset(&m, 0, sizeof(m));
	m.type = P_DATA;
	m.off = 1ULL << 40;
	memset(data, 7, sizeof(data));
	m.data = data;
	m.datalen = sizeof(data);
	ok(roundtrip(&m, &o) == 0 && o.off == m.off && o.datalen == 100 &&
	    memcmp(o.data, data, 100) == 0, "DATA {offset, bytes}");
	for (ok_all = 1, t = P_END; t < P_MAX; t++) {
		memset(&m, 0, sizeof(m));
		m.type = t;
		strlcpy(m.path, "a", sizeof(m.path));
		strlcpy(m.target, "b", sizeof(m.target));
		strlcpy(m.reason, "r", sizeof(m.reason));
		m.seq = 9;
		m.size = 10;
		m.off = 4;		/* RESUME: within the size */
		if (roundtrip(&m, &o) != 0 || o.type != t)
			ok_all = 0;
	}
	ok(ok_all, "END, LINK, MKDIR, DELETE, COMMIT, ACK, DONE, RESUME, "
	    "HLINK survive too");
	memset(&m, 0, sizeof(m));
	m.type = P_RESUME;
	strlcpy(m.path, "big", sizeof(m.path));
	m.size = 10;
	m.off = 10;
	ok(roundtrip(&m, &o) == -1, "a RESUME at or past the size is refused");

	/* a BEGIN cut at every length is refused */
	memset(&m, 0, sizeof(m));
	m.type = P_BEGIN;
	strlcpy(m.path, "f", sizeof(m.path));
	n = proto_encode(&m, buf, sizeof(buf));
	for (ok_all = 1, cut = 0; cut < n; cut++)
		if (proto_decode(P_BEGIN, buf, cut, 2, &o, err,
		    sizeof(err)) != -1)
			ok_all = 0;
	ok(ok_all, "a BEGIN cut at any of its %zu lengths is refused", n);
	buf[n] = 0;
	ok(proto_decode(P_BEGIN, buf, n + 1, 2, &o, err, sizeof(err)) == -1 &&
	    strstr(err, "trailing") != NULL, "a byte too many is refused");
	ok(proto_decode(P_MAX, buf, n, 2, &o, err, sizeof(err)) == -1 &&
	    strstr(err, "unknown frame") != NULL, "an unknown type is refused");
	ok(proto_decode(0, buf, 0, 2, &o, err, sizeof(err)) == -1,
	    "type 0 is refused");

	m.dir = 2;
	ok(refused(&m, "directory index"), "a directory index not "
	    "configured is refused");
	m.dir = 0;
	m.mode = 010644;
	ok(refused(&m, "bad mode"), "a mode beyond 07777 is refused");
	m.mode = 0644;
	strlcpy(m.path, "../etc/passwd", sizeof(m.path));
	ok(refused(&m, "bad path"), "'..' in a path is refused");
	strlcpy(m.path, "/etc/passwd", sizeof(m.path));
	ok(refused(&m, "bad path"), "an absolute path is refused");
	strlcpy(m.path, "a//b", sizeof(m.path));
	ok(refused(&m, "bad path"), "an empty component is refused");
	strlcpy(m.path, "a/./b", sizeof(m.path));
	ok(refused(&m, "bad path"), "a '.' component is refused");
	memset(m.path, 'x', 300);
	m.path[300] = '\0';
	ok(refused(&m, "bad path"), "an over-long name is refused");

	/* a NUL inside a string: forge it after encoding */
	strlcpy(m.path, "abc", sizeof(m.path));
	n = proto_encode(&m, buf, sizeof(buf));
	buf[n - 2] = '\0';
	ok(proto_decode(P_BEGIN, buf, n, 2, &o, err, sizeof(err)) == -1,
	    "a NUL inside a path is refused");
	/* a string length past the end of the frame */
	buf[n - 5] = 0xff;
	ok(proto_decode(P_BEGIN, buf, n, 2, &o, err, sizeof(err)) == -1,
	    "a string longer than its frame is refused");

	memset(&m, 0, sizeof(m));
	m.type = P_FENCE;
	strlcpy(m.node, "a", sizeof(m.node));
	m.epoch = 0;
	ok(refused(&m, "bad fence"), "a fence at epoch 0 is refused");
	memset(&m, 0, sizeof(m));
	m.type = P_LINK;
	strlcpy(m.path, "l", sizeof(m.path));
	ok(refused(&m, "empty link target"), "a link without target is "
	    "refused");
	memset(&m, 0, sizeof(m));
	m.type = P_DATA;
	m.data = big;	/* not the buffer it is encoded into */
	m.datalen = PROTO_MAXDATA + 1;
	ok(refused(&m, "over-size"), "data over 64 KiB is refused");
	return (tap_done());
}
