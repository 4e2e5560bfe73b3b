/*
 * syncd: the sender's half of a session, on the active node
 * (syncd/PROTOCOL).
 *
 * Once the session is open it states {node, epoch} and reads the
 * receiver's manifest; then each round it ships what its snapshot of the
 * tree has and the receiver's does not, in batches the receiver makes
 * durable and acknowledges, deletions after new data.  What the receiver
 * has after a round is what the snapshot had, so the next round plans
 * against it and sends only the difference.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "syncd.h"

#define BATCH_BYTES	(4ULL << 20)

static uint8_t		 body[WIRE_MAXBODY];	/* a DATA frame */
static struct proto_msg	 msg;			/* the frame built */

/* The session is open: the sender states who and which epoch. */
void
send_opened(struct conn *c)
{
	if ((c->remote = calloc(syncd.ndirs, sizeof(*c->remote))) == NULL ||
	    (c->rstale = calloc(syncd.ndirs, sizeof(*c->rstale))) == NULL ||
	    (c->plan = calloc(syncd.ndirs, sizeof(*c->plan))) == NULL)
		fatal("calloc");
	c->sp->reached = 1;
	strlcpy(c->sp->state, "opening", sizeof(c->sp->state));
	memset(&msg, 0, sizeof(msg));
	msg.type = P_FENCE;
	strlcpy(msg.node, syncd.conf.node, sizeof(msg.node));
	msg.epoch = c->epoch = syncd.epoch;
	conn_send(c, &msg, 0);
	log_info("peer %s (%s): session open at epoch %lld", c->node,
	    c->addr, (long long)c->epoch);
}

/* An entry of the receiver's manifest: 0, -1 out of order, -2 closed. */
static int
remote_add(struct conn *c, const struct proto_msg *m)
{
	struct scan_manifest	*r = &c->remote[m->dir];
	struct scan_entry	 e, *ne;

	if (m->dir != c->mdir)
		return (-1);
	if (r->n > 0 && strcmp(r->e[r->n - 1].path, m->path) >= 0)
		return (-1);	/* not sorted: plan_round needs it */
	/* what a receiver's key can make this process hold is bounded */
	c->mbytes += strlen(m->path) + (m->ftype == SCAN_LINK ||
	    m->ftype == SCAN_HLINK ? strlen(m->target) : 0);
	if (r->n >= MANIFEST_MAX_ENTRIES || c->mbytes > MANIFEST_MAX_BYTES) {
		conn_close(c, "the receiver's manifest is over its bounds "
		    "(1,000,000 entries a directory, 128 MiB of names)");
		return (-2);
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		if ((ne = reallocarray(r->e, r->cap, sizeof(*ne))) == NULL)
			fatal("reallocarray");
		r->e = ne;
	}
	memset(&e, 0, sizeof(e));
	e.type = m->ftype;
	e.mode = m->mode;
	e.size = m->size;
	e.mtime_ns = m->mtime_ns;
	memcpy(e.hash, m->hash, sizeof(e.hash));
	e.hashed = 1;
	if ((e.path = scan_strdup(r, m->path)) == NULL ||
	    ((m->ftype == SCAN_LINK || m->ftype == SCAN_HLINK) &&
	    (e.link = scan_strdup(r, m->target)) == NULL))
		fatal("scan_strdup");
	r->e[r->n++] = e;
	return (0);
}

static int
entry_cmp_path(const void *k, const void *e)
{
	return (strcmp(k, ((const struct scan_entry *)e)->path));
}

/*
 * After a round the receiver has the snapshot, except the files that
 * changed while they were read: those are marked stale, so the next
 * round ships them again.  The snapshot is shared, not copied: one
 * manifest in memory for the local tree and every receiver's that is
 * up to date with it.
 */
static void
remote_from_snap(struct conn *c)
{
	struct scan_entry	*e;
	uint32_t		 d;
	size_t			 i;

	for (d = 0; d < syncd.ndirs; d++) {
		scan_manifest_free(&c->remote[d]);
		plan_free(&c->plan[d]);		/* it points into the old */
		free(c->rstale[d]);
		c->rstale[d] = NULL;
	}
	syncd_snap_unref(c->rsnap);
	c->rsnap = c->snap;
	c->rsnap->refs++;
	for (i = 0; i < c->ndirty; i++) {
		d = c->dirty[i].dir;
		if (c->rsnap->m[d].n > 0 && (e = bsearch(c->dirty[i].path,
		    c->rsnap->m[d].e, c->rsnap->m[d].n, sizeof(*e),
		    entry_cmp_path)) != NULL) {
			if (c->rstale[d] == NULL && (c->rstale[d] =
			    calloc(c->rsnap->m[d].n, 1)) == NULL)
				fatal("calloc");
			c->rstale[d][e - c->rsnap->m[d].e] = 1;
		}
		free(c->dirty[i].path);
	}
	c->ndirty = 0;
}

/* The receiver's tree in directory d, as this side knows it. */
static const struct scan_manifest *
remote_of(struct conn *c, uint32_t d)
{
	return (c->rsnap != NULL ? &c->rsnap->m[d] : &c->remote[d]);
}

static void
mark_dirty(struct conn *c, uint32_t dir, const char *path)
{
	struct dirty	*d;

	if (c->ndirty == c->capdirty) {
		c->capdirty = c->capdirty ? c->capdirty * 2 : 16;
		if ((d = reallocarray(c->dirty, c->capdirty,
		    sizeof(*d))) == NULL)
			fatal("reallocarray");
		c->dirty = d;
	}
	c->dirty[c->ndirty].dir = dir;
	if ((c->dirty[c->ndirty].path = strdup(path)) == NULL)
		fatal("strdup");
	c->ndirty++;
}

/* Was path of directory dir left for the next round? */
static int
is_dirty(struct conn *c, uint32_t dir, const char *path)
{
	size_t	 i;

	for (i = 0; i < c->ndirty; i++)
		if (c->dirty[i].dir == dir &&
		    strcmp(c->dirty[i].path, path) == 0)
			return (1);
	return (0);
}

/*
 * A lazy scan left new files unhashed; where the receiver has a file of
 * the same size, mode and mtime only the content tells: hash those now.
 */
static void
hash_needed(struct snap *snap, const struct scan_manifest *remote,
    const uint8_t *stale, uint32_t d)
{
	struct scan_entry	*l;
	const struct scan_entry	*r;
	size_t			 i = 0, j = 0;
	int			 cmp;

	while (i < snap->m[d].n && j < remote->n) {
		l = &snap->m[d].e[i];
		r = &remote->e[j];
		if ((cmp = strcmp(l->path, r->path)) < 0)
			i++;
		else if (cmp > 0)
			j++;
		else {
			if (l->type == SCAN_FILE && r->type == SCAN_FILE &&
			    !l->hashed && (stale == NULL || !stale[j]) &&
			    l->size == r->size && l->mode == r->mode &&
			    l->mtime_ns == r->mtime_ns)
				(void)scan_hash_entry(syncd.dirs[d].fd,
				    syncd.dirs[d].cache, l);
			i++;
			j++;
		}
	}
}

/* A round from this snapshot, planned against what the receiver has. */
void
send_round(struct conn *c, struct snap *snap)
{
	char		 err[FAULT_LEN];
	uint32_t	 d;

	for (d = 0; d < syncd.ndirs; d++) {
		hash_needed(snap, remote_of(c, d), c->rstale[d], d);
		plan_free(&c->plan[d]);
		if (plan_round(&snap->m[d], remote_of(c, d), c->rstale[d],
		    syncd.conf.max_delete, &c->plan[d], err,
		    sizeof(err)) == -1) {
			char	 why[FAULT_LEN + PATH_LEN];

			snprintf(why, sizeof(why), "%s: %s", syncd.dirs[d].path,
			    err);
			syncd_guard_failed(why);
			syncd_peer_failed(c->sp, why);
			for (d = 0; d < syncd.ndirs; d++)
				plan_free(&c->plan[d]);
			if (c->sp->ctl_wait)
				syncd_ctl_peer_done(c->sp, 0, why);
			return;
		}
	}
	if (c->snap != NULL)
		syncd_snap_unref(c->snap);
	c->snap = snap;
	snap->refs++;
	c->pdir = 0;
	c->pitem = 0;
	c->rfiles = c->rbytes = c->rdeleted = 0;
	c->rerror[0] = '\0';
	c->again = 0;
	c->state = C_ROUND;
	strlcpy(c->sp->state, "syncing", sizeof(c->sp->state));
	send_fill(c);
}

static int
commit(struct conn *c)
{
	if (c->bfiles == 0 && c->bbytes == 0)
		return (0);
	memset(&msg, 0, sizeof(msg));
	msg.type = P_COMMIT;
	msg.seq = ++c->seq;
	c->bfiles = 0;
	c->bbytes = 0;
	return (conn_send(c, &msg, 0));
}

/* The next DATA frame of the file being sent, or its END. */
static int
send_data(struct conn *c)
{
	struct proto_msg	 end;
	struct stat		 st;
	size_t			 want;
	ssize_t			 n = 0;

	want = c->fe->size - c->foff;
	if (want > PROTO_MAXDATA)
		want = PROTO_MAXDATA;
	if (want > 0) {
		body[0] = c->foff >> 56; body[1] = c->foff >> 48;
		body[2] = c->foff >> 40; body[3] = c->foff >> 32;
		body[4] = c->foff >> 24; body[5] = c->foff >> 16;
		body[6] = c->foff >> 8; body[7] = c->foff;
		while ((n = pread(c->ffd, body + 8, want, c->foff)) == -1 &&
		    errno == EINTR)
			;
		if (n > 0) {
			crypto_generichash_update(&c->hs, body + 8, n);
			if (wire_send(&c->s.w, P_DATA, body, 8 + n, 0) == -1) {
				conn_close(c, "send buffer full");
				return (-1);
			}
			c->foff += n;
			if (c->foff < c->fe->size)
				return (0);
		}
	}
	/*
	 * Complete, or it shrank: a file changed while read is sent again
	 * next round, and its END says so with a hash of zeros (the receiver
	 * drops what came); else END carries the hash of what was read.
	 */
	memset(&end, 0, sizeof(end));
	end.type = P_END;
	if (n < 0 || fstat(c->ffd, &st) == -1 ||
	    (uint64_t)st.st_size != c->fe->size || c->foff != c->fe->size ||
	    (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec !=
	    c->fe->mtime_ns) {
		log_debug("peer %s: %s changed while it was sent", c->node,
		    c->fe->path);
		mark_dirty(c, c->pdir, c->fe->path);
	} else {
		crypto_generichash_final(&c->hs, end.hash, SCAN_HASHLEN);
		if (!c->fe->hashed) {
			/* read whole and unchanged: for the next rounds */
			struct scan_entry	*e = (struct scan_entry *)c->fe;

			memcpy(e->hash, end.hash, SCAN_HASHLEN);
			e->hashed = 1;
			scan_cache_put(syncd.dirs[c->pdir].cache, &st,
			    e->hash);
		}
	}
	close(c->ffd);
	c->ffd = -1;
	if (conn_send(c, &end, 0) == -1)
		return (-1);
	c->rfiles++;
	c->rbytes += c->foff;
	c->bfiles++;
	c->bbytes += c->foff;
	if ((c->bfiles >= APPLY_MAXBATCH || c->bbytes >= BATCH_BYTES) &&
	    commit(c) == -1)
		return (-1);
	c->fe = NULL;
	return (0);
}

/*
 * The receiver holds the first rs.off bytes of this file from a session
 * that broke: go on from there (the part before is still hashed, from
 * the local file, when the hash is not known yet).
 */
static void
resume_from(struct conn *c)
{
	uint64_t	 off = 0;
	ssize_t		 n;

	c->rs.set = 0;
	/* END carries the whole file's hash: the part before too */
	while (off < c->rs.off) {
		n = pread(c->ffd, body, c->rs.off - off < sizeof(body) ?
		    c->rs.off - off : sizeof(body), off);
		if (n <= 0) {
			/* it is sent whole */
			crypto_generichash_init(&c->hs, NULL, 0, SCAN_HASHLEN);
			return;
		}
		crypto_generichash_update(&c->hs, body, n);
		off += n;
	}
	c->foff = c->rs.off;
	log_info("peer %s: %s resumes at %llu of %llu bytes", c->node,
	    c->fe->path, (unsigned long long)c->foff,
	    (unsigned long long)c->fe->size);
}

static int
open_source(struct conn *c, const struct scan_entry *e)
{
	struct stat	 st;
	char		 why[PATH_LEN + 64];

	/* beneath the directory, through no symlink, as the receiver does;
	 * without blocking, and it must be the regular file scanned (not a
	 * FIFO swapped in: it would hang the session; the inode is the
	 * scan's, the filesystem is not kept) */
	c->ffd = apply_open_beneath(syncd.dirs[c->pdir].fd, e->path,
	    O_RDONLY | O_NONBLOCK, 0);
	if (c->ffd != -1 && (fstat(c->ffd, &st) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_ino != e->ino)) {
		log_debug("peer %s: %s is not the file scanned; next round",
		    c->node, e->path);
		close(c->ffd);
		c->ffd = -1;
		mark_dirty(c, c->pdir, e->path);
		return (-1);
	}
	if (c->ffd != -1)
		return (0);
	if (errno != ENOENT) {
		snprintf(why, sizeof(why), "%s/%s: %s",
		    syncd.dirs[c->pdir].path, e->path, strerror(errno));
		log_warnx("%s", why);
		strlcpy(c->rerror, why, sizeof(c->rerror));
	}
	mark_dirty(c, c->pdir, e->path);
	return (-1);
}

/* Frames of the round while the send buffer has room. */
void
send_fill(struct conn *c)
{
	const struct plan_item	*it;
	struct plan		*p;

	while (!c->dead && c->state == C_ROUND && conn_room(c)) {
		if (c->fe != NULL) {
			if (send_data(c) == -1)
				return;
			continue;
		}
		if (c->seq - c->acked >= MAX_INFLIGHT)
			return;		/* until an acknowledgement */
		if (c->pdir == syncd.ndirs) {
			if (commit(c) == -1)
				return;
			memset(&msg, 0, sizeof(msg));
			msg.type = P_DONE;
			if (conn_send(c, &msg, 0) == 0)
				c->state = C_DONE;
			return;
		}
		p = &c->plan[c->pdir];
		if (c->pitem == p->n) {
			/* a batch never spans two directories */
			if (commit(c) == -1)
				return;
			c->pdir++;
			c->pitem = 0;
			continue;
		}
		it = &p->item[c->pitem];
		/* deletions after the new data is durable */
		if (it->kind == PLAN_DELETE && commit(c) == -1)
			return;
		c->pitem++;
		memset(&msg, 0, sizeof(msg));
		msg.dir = c->pdir;
		strlcpy(msg.path, it->e->path, sizeof(msg.path));
		switch (it->kind) {
		case PLAN_FILE:
			if (open_source(c, it->e) == -1)
				break;
			msg.type = P_BEGIN;
			msg.mode = it->e->mode;
			msg.size = it->e->size;
			msg.mtime_ns = it->e->mtime_ns;
			memcpy(msg.hash, it->e->hash, sizeof(msg.hash));
			c->fe = it->e;
			c->foff = 0;
			crypto_generichash_init(&c->hs, NULL, 0, SCAN_HASHLEN);
			if (c->rs.set && c->rs.dir == c->pdir &&
			    c->rs.size == it->e->size &&
			    c->rs.mtime_ns == it->e->mtime_ns &&
			    strcmp(c->rs.path, it->e->path) == 0)
				resume_from(c);
			conn_send(c, &msg, 0);
			break;
		case PLAN_LINK:
			msg.type = P_LINK;
			msg.mtime_ns = it->e->mtime_ns;
			strlcpy(msg.target, it->e->link, sizeof(msg.target));
			conn_send(c, &msg, 0);
			c->rfiles++;
			break;
		case PLAN_HLINK:
			/* not to a file that did not go this round: the
			 * receiver's is not the content it names now */
			if (is_dirty(c, c->pdir, it->e->link)) {
				mark_dirty(c, c->pdir, it->e->path);
				break;
			}
			/* a member of the batch, as the file it names may be */
			msg.type = P_HLINK;
			strlcpy(msg.target, it->e->link, sizeof(msg.target));
			conn_send(c, &msg, 0);
			c->rfiles++;
			if (++c->bfiles >= APPLY_MAXBATCH && commit(c) == -1)
				return;
			break;
		case PLAN_MKDIR:
			msg.type = P_MKDIR;
			msg.mode = it->e->mode;
			conn_send(c, &msg, 0);
			break;
		case PLAN_DELETE:
			msg.type = P_DELETE;
			conn_send(c, &msg, 0);
			c->rdeleted++;
			break;
		}
	}
}

/* A frame from the receiver: its manifest, acknowledgements, the end. */
int
send_frame(struct conn *c, struct proto_msg *m)
{
	char	 why[320];
	int	 rc, dirty;

	switch (m->type) {
	case P_REFUSE:
		snprintf(why, sizeof(why), "refused: %s", m->reason);
		conn_close(c, why);
		return (-1);
	case P_ENTRY:
		if (c->state != C_WAIT || (rc = remote_add(c, m)) == -1)
			break;
		return (rc == 0 ? 0 : -1);
	case P_RESUME:
		if (c->state != C_WAIT || c->rs.set || c->mdir != 0)
			break;
		c->rs.set = 1;
		c->rs.dir = m->dir;
		if ((c->rs.path = strdup(m->path)) == NULL)
			fatal("strdup");
		c->rs.size = m->size;
		c->rs.mtime_ns = m->mtime_ns;
		c->rs.off = m->off;
		return (0);
	case P_MEND:
		if (c->state != C_WAIT || m->dir != c->mdir)
			break;
		if (++c->mdir == syncd.ndirs) {
			c->state = C_READY;
			strlcpy(c->sp->state, "ready", sizeof(c->sp->state));
			log_debug("peer %s: manifest of %u directories",
			    c->node, syncd.ndirs);
			syncd_round_wanted(0);
		}
		return (0);
	case P_ACK:
		if ((c->state != C_ROUND && c->state != C_DONE) ||
		    m->seq != c->acked + 1 || m->seq > c->seq)
			break;
		c->acked = m->seq;
		return (0);
	case P_DONE:
		if (c->s.w.got_final) {
			conn_close(c, NULL);
			return (-1);
		}
		if (c->state != C_DONE || c->acked != c->seq)
			break;
		/* the receiver drops a kept part at a round without it */
		if (c->rs.set) {
			c->rs.set = 0;
			free(c->rs.path);
			c->rs.path = NULL;
		}
		/* files that changed while they were sent: another round
		 * (remote_from_snap takes the list) */
		dirty = c->ndirty > 0;
		remote_from_snap(c);
		syncd.files += c->rfiles;
		syncd.bytes += c->rbytes;
		c->state = C_READY;
		if (c->rfiles > 0 || c->rdeleted > 0)
			log_info("peer %s: round done, %llu files, %llu "
			    "bytes, %llu deleted", c->node,
			    (unsigned long long)c->rfiles,
			    (unsigned long long)c->rbytes,
			    (unsigned long long)c->rdeleted);
		if (c->rerror[0] != '\0') {
			syncd_peer_failed(c->sp, c->rerror);
			if (c->sp->ctl_wait && c->snap->id >= syncd.ctl_snap)
				syncd_ctl_peer_done(c->sp, 0, c->rerror);
		} else {
			syncd_peer_ok(c->sp);
			if (c->sp->ctl_wait && c->snap->id >= syncd.ctl_snap)
				syncd_ctl_peer_done(c->sp, 1, NULL);
		}
		if (c->again || dirty)
			syncd_round_wanted(0);
		return (0);
	default:
		break;
	}
	snprintf(why, sizeof(why), "unexpected frame %u", m->type);
	conn_close(c, why);
	return (-1);
}
