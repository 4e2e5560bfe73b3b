/*
 * syncd: encoding and decoding of session frames.  All integers are big
 * endian; a string is a u16 length and its bytes, without NUL.  A frame
 * that is short, long, of an unknown type, names a directory index that
 * is not configured, a mode beyond 07777, a string with a NUL, or a path
 * that is absolute, has "." or ".." or empty components or is over-long,
 * is refused whole: the session ends and nothing of it is applied.
 */

#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "proto.h"

struct rd {
	const uint8_t	*p;
	size_t		 left;
	int		 bad;
};

static uint64_t
get(struct rd *r, int n)
{
	uint64_t	 v = 0;
	int		 i;

	if (r->bad || r->left < (size_t)n) {
		r->bad = 1;
		return (0);
	}
	for (i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	r->left -= n;
	return (v);
}

static void
getbytes(struct rd *r, void *out, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = 1;
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
}

/* A string into out (max with its NUL); a NUL inside is refused. */
static void
getstr(struct rd *r, char *out, size_t max)
{
	size_t	 len = get(r, 2);

	if (r->bad || len >= max || r->left < len ||
	    memchr(r->p, '\0', len) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(out, r->p, len);
	out[len] = '\0';
	r->p += len;
	r->left -= len;
}

static int
reject(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return (-1);
}

int
proto_decode(uint8_t type, const uint8_t *body, size_t len,
    unsigned int ndirs, struct proto_msg *m, char *err, size_t errlen)
{
	struct rd	 r = { body, len, 0 };
	int		 has_path = 0;

	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case P_FENCE:
		getstr(&r, m->node, sizeof(m->node));
		m->epoch = (int64_t)get(&r, 8);
		if (!r.bad && (m->node[0] == '\0' || m->epoch < 1))
			return (reject(err, errlen, "bad fence"));
		break;
	case P_REFUSE:
		getstr(&r, m->reason, sizeof(m->reason));
		break;
	case P_ENTRY:
	case P_BEGIN:
		m->dir = get(&r, 1);
		m->ftype = type == P_BEGIN ? SCAN_FILE : get(&r, 1);
		m->mode = get(&r, 4);
		m->size = get(&r, 8);
		m->mtime_ns = (int64_t)get(&r, 8);
		getbytes(&r, m->hash, sizeof(m->hash));
		getstr(&r, m->path, sizeof(m->path));
		if (m->ftype == SCAN_LINK || m->ftype == SCAN_HLINK)
			getstr(&r, m->target, sizeof(m->target));
		has_path = 1;
		if (!r.bad && m->ftype != SCAN_FILE && m->ftype != SCAN_DIR &&
		    m->ftype != SCAN_LINK && m->ftype != SCAN_HLINK)
			return (reject(err, errlen, "unknown entry type"));
		if (!r.bad && m->ftype == SCAN_HLINK)
			has_path = 2;	/* and the target is a path too */
		break;
	case P_MEND:
		m->dir = get(&r, 1);
		break;
	case P_RESUME:
		m->dir = get(&r, 1);
		m->size = get(&r, 8);
		m->mtime_ns = (int64_t)get(&r, 8);
		m->off = get(&r, 8);
		getstr(&r, m->path, sizeof(m->path));
		has_path = 1;
		if (!r.bad && (m->off == 0 || m->off >= m->size))
			return (reject(err, errlen, "bad resume offset"));
		break;
	case P_DATA:
		m->off = get(&r, 8);
		m->data = r.p;
		m->datalen = r.left;
		if (!r.bad && m->datalen > PROTO_MAXDATA)
			return (reject(err, errlen, "over-size data"));
		r.left = 0;
		break;
	case P_END:
		getbytes(&r, m->hash, sizeof(m->hash));
		break;
	case P_DONE:
		break;
	case P_LINK:
		m->dir = get(&r, 1);
		m->ftype = SCAN_LINK;
		m->mtime_ns = (int64_t)get(&r, 8);
		getstr(&r, m->path, sizeof(m->path));
		getstr(&r, m->target, sizeof(m->target));
		has_path = 1;
		if (!r.bad && m->target[0] == '\0')
			return (reject(err, errlen, "empty link target"));
		break;
	case P_HLINK:
		m->dir = get(&r, 1);
		m->ftype = SCAN_HLINK;
		getstr(&r, m->path, sizeof(m->path));
		getstr(&r, m->target, sizeof(m->target));
		has_path = 2;
		break;
	case P_MKDIR:
		m->dir = get(&r, 1);
		m->ftype = SCAN_DIR;
		m->mode = get(&r, 4);
		getstr(&r, m->path, sizeof(m->path));
		has_path = 1;
		break;
	case P_DELETE:
		m->dir = get(&r, 1);
		getstr(&r, m->path, sizeof(m->path));
		has_path = 1;
		break;
	case P_COMMIT:
	case P_ACK:
		m->seq = get(&r, 8);
		break;
	default:
		return (reject(err, errlen, "unknown frame type"));
	}
	if (r.bad)
		return (reject(err, errlen, "short frame or over-long string"));
	if (r.left != 0)
		return (reject(err, errlen, "trailing bytes in a frame"));
	if (type != P_FENCE && type != P_REFUSE && type != P_DATA &&
	    type != P_END && type != P_DONE && type != P_COMMIT &&
	    type != P_ACK && m->dir >= ndirs)
		return (reject(err, errlen, "no such directory index"));
	if (m->mode & ~07777U)
		return (reject(err, errlen, "bad mode"));
	if (has_path && !apply_path_valid(m->path, strlen(m->path))) {
		char	 vis[64];
		size_t	 i;

		/* named, but made safe to log */
		for (i = 0; i < sizeof(vis) - 1 && m->path[i] != '\0'; i++)
			vis[i] = m->path[i] >= ' ' && m->path[i] < 0x7f ?
			    m->path[i] : '?';
		vis[i] = '\0';
		snprintf(err, errlen, "bad path \"%s\" (absolute, '.', '..', "
		    "empty component or over-long)", vis);
		return (-1);
	}
	if (has_path && apply_path_reserved(m->path))
		return (reject(err, errlen, "a reserved name (.failoverd-attic "
		    "or .failoverd.*)"));
	/* a hard link's first name is a path of the tree like any other,
	 * and not the link itself */
	if (has_path == 2 && (!apply_path_valid(m->target,
	    strlen(m->target)) || apply_path_reserved(m->target) ||
	    strcmp(m->target, m->path) == 0))
		return (reject(err, errlen, "bad hard link target"));
	return (0);
}

struct wr {
	uint8_t		*p;
	size_t		 left;
	size_t		 n;
	int		 bad;
};

static void
put(struct wr *w, uint64_t v, int n)
{
	int	 i;

	if (w->bad || w->left < (size_t)n) {
		w->bad = 1;
		return;
	}
	for (i = n - 1; i >= 0; i--)
		*w->p++ = v >> (8 * i);
	w->left -= n;
	w->n += n;
}

static void
putbytes(struct wr *w, const void *b, size_t n)
{
	if (w->bad || w->left < n) {
		w->bad = 1;
		return;
	}
	memcpy(w->p, b, n);
	w->p += n;
	w->left -= n;
	w->n += n;
}

static void
putstr(struct wr *w, const char *s)
{
	size_t	 len = strlen(s);

	if (len > 0xffff) {
		w->bad = 1;
		return;
	}
	put(w, len, 2);
	putbytes(w, s, len);
}

/* The body of m (its type travels apart); 0 when it does not fit. */
size_t
proto_encode(const struct proto_msg *m, uint8_t *out, size_t max)
{
	struct wr	 w = { out, max, 0, 0 };

	switch (m->type) {
	case P_FENCE:
		putstr(&w, m->node);
		put(&w, (uint64_t)m->epoch, 8);
		break;
	case P_REFUSE:
		putstr(&w, m->reason);
		break;
	case P_ENTRY:
	case P_BEGIN:
		put(&w, m->dir, 1);
		if (m->type == P_ENTRY)
			put(&w, m->ftype, 1);
		put(&w, m->mode, 4);
		put(&w, m->size, 8);
		put(&w, (uint64_t)m->mtime_ns, 8);
		putbytes(&w, m->hash, sizeof(m->hash));
		putstr(&w, m->path);
		if (m->type == P_ENTRY && (m->ftype == SCAN_LINK ||
		    m->ftype == SCAN_HLINK))
			putstr(&w, m->target);
		break;
	case P_MEND:
		put(&w, m->dir, 1);
		break;
	case P_RESUME:
		put(&w, m->dir, 1);
		put(&w, m->size, 8);
		put(&w, (uint64_t)m->mtime_ns, 8);
		put(&w, m->off, 8);
		putstr(&w, m->path);
		break;
	case P_DATA:
		put(&w, m->off, 8);
		putbytes(&w, m->data, m->datalen);
		break;
	case P_END:
		putbytes(&w, m->hash, sizeof(m->hash));
		break;
	case P_DONE:
		break;
	case P_LINK:
		put(&w, m->dir, 1);
		put(&w, (uint64_t)m->mtime_ns, 8);
		putstr(&w, m->path);
		putstr(&w, m->target);
		break;
	case P_HLINK:
		put(&w, m->dir, 1);
		putstr(&w, m->path);
		putstr(&w, m->target);
		break;
	case P_MKDIR:
		put(&w, m->dir, 1);
		put(&w, m->mode, 4);
		putstr(&w, m->path);
		break;
	case P_DELETE:
		put(&w, m->dir, 1);
		putstr(&w, m->path);
		break;
	case P_COMMIT:
	case P_ACK:
		put(&w, m->seq, 8);
		break;
	default:
		return (0);
	}
	return (w.bad ? 0 : w.n);
}
