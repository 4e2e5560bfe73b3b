/*
 * syncd: the receiver's half of a session, on a standby (syncd/PROTOCOL).
 *
 * It accepts the session only from the holder of the lease at the epoch
 * its heartbeatd last saw, sends its manifest, and applies what comes in
 * batches it makes durable before it acknowledges them.  It asks again
 * whether the sender still holds the lease before every rename or
 * unlink, and never writes outside its directory fds.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "syncd.h"

static struct proto_msg	 msg;		/* the frame built */

/* The manifest, while the send buffer has room. */
void
recv_fill(struct conn *c)
{
	const struct scan_entry	*e;

	while (!c->dead && conn_room(c) && c->sdir < syncd.ndirs) {
		memset(&msg, 0, sizeof(msg));
		msg.dir = c->sdir;
		if (c->sidx == c->local[c->sdir].n) {
			msg.type = P_MEND;
			c->sdir++;
			c->sidx = 0;
			conn_send(c, &msg, 0);
			continue;
		}
		e = &c->local[c->sdir].e[c->sidx++];
		msg.type = P_ENTRY;
		msg.ftype = e->type;
		msg.mode = e->mode;
		msg.size = e->size;
		msg.mtime_ns = e->mtime_ns;
		memcpy(msg.hash, e->hash, sizeof(msg.hash));
		strlcpy(msg.path, e->path, sizeof(msg.path));
		if (e->link != NULL)
			strlcpy(msg.target, e->link, sizeof(msg.target));
		conn_send(c, &msg, 0);
	}
	if (!c->dead && c->sdir == syncd.ndirs) {
		uint32_t	 d;

		for (d = 0; d < syncd.ndirs; d++)
			scan_manifest_free(&c->local[d]);
		c->state = C_READY;
	}
}

static int
fence_ok(struct conn *c)
{
	return (!syncd_active() && syncd.seen.epoch == c->epoch &&
	    strcmp(syncd.seen.holder, c->node) == 0);
}

/* Is the session's epoch still the holder's?  Asks the monitor first. */
static int
fence_current(void *arg)
{
	struct conn	*c = arg;

	syncd_poll_monitor();
	return (!c->dead && fence_ok(c));
}

void
recv_check_fence(struct conn *c)
{
	char	 why[FAULT_LEN];

	if (c->sender || c->dead || c->state < C_MANIFEST || fence_ok(c))
		return;
	if (syncd_active())
		snprintf(why, sizeof(why), "this node is active now");
	else
		snprintf(why, sizeof(why), "epoch %lld went stale (holder "
		    "%s, epoch %lld)", (long long)c->epoch,
		    syncd.seen.holder[0] ? syncd.seen.holder : "none",
		    (long long)syncd.seen.epoch);
	conn_close(c, why);
}

static int
fence(struct conn *c, struct proto_msg *m)
{
	struct scan_stats	 st;
	struct conn		*o;
	uint32_t		 d;

	if (strcmp(m->node, c->node) != 0) {
		conn_refuse(c, "the fence names %s, the key %s", m->node, c->node);
		return (-1);
	}
	c->epoch = m->epoch;
	if (syncd_active()) {
		conn_refuse(c, "this node is active (epoch %lld)",
		    (long long)syncd.epoch);
		return (-1);
	}
	if (syncd.seen.epoch < m->epoch) {
		conn_refuse(c, "epoch %lld not seen yet (this node saw %lld)",
		    (long long)m->epoch, (long long)syncd.seen.epoch);
		return (-1);
	}
	if (!fence_ok(c)) {
		conn_refuse(c, "stale: the lease is %s's at epoch %lld",
		    syncd.seen.holder[0] ? syncd.seen.holder : "nobody",
		    (long long)syncd.seen.epoch);
		return (-1);
	}
	/* one session at a time: an older one of the holder ends */
	TAILQ_FOREACH(o, &syncd.conns, entry)
		if (o != c && !o->sender && !o->dead && o->state >= C_MANIFEST)
			conn_close(o, "replaced by a new session");
	if (syncd.attic_done != m->epoch) {
		/* the epoch's first round keeps what it replaces */
		snprintf(c->attic, sizeof(c->attic), "%s/%lld", ATTIC_DIR,
		    (long long)m->epoch);
		/* what a broken session of another epoch kept is not ours */
		if (syncd.attic_counting != m->epoch)
			(void)apply_attic_taken();
		syncd.attic_counting = m->epoch;
	}
	if ((c->local = calloc(syncd.ndirs, sizeof(*c->local))) == NULL)
		fatal("calloc");
	syncd_scan_begin(1);
	for (d = 0; d < syncd.ndirs; d++) {
		/* the sender compares hashes: the receiver's are all known */
		scan_cache_lazy(syncd.dirs[d].cache, 0);
		if (scan_dir(syncd.dirs[d].fd, syncd.dirs[d].ex,
		    syncd.dirs[d].cache,
		    &c->local[d], &st) == -1) {
			char	 why[PATH_LEN + 64];

			snprintf(why, sizeof(why), "scan of %s: %s",
			    syncd.dirs[d].path, strerror(errno));
			syncd_scan_end();
			conn_close(c, why);
			return (-1);
		}
	}
	syncd_scan_end();
	log_notice("session from %s (%s) at epoch %lld%s%s", c->node,
	    c->addr, (long long)c->epoch, c->attic[0] ? ", attic " : "",
	    c->attic);
	c->state = C_MANIFEST;
	if (syncd.resume.set && (syncd.resume.epoch != c->epoch ||
	    strcmp(syncd.resume.holder, c->node) != 0)) {
		/* a part is resumed only by who sent it, at that epoch */
		log_info("the kept part of %s (from %s at epoch %lld) goes: "
		    "this session is %s's at epoch %lld", syncd.resume.path,
		    syncd.resume.holder, (long long)syncd.resume.epoch,
		    c->node, (long long)c->epoch);
		recv_resume_drop();
	}
	if (syncd.resume.set) {
		memset(&msg, 0, sizeof(msg));
		msg.type = P_RESUME;
		msg.dir = syncd.resume.dir;
		msg.size = syncd.resume.size;
		msg.mtime_ns = syncd.resume.mtime_ns;
		msg.off = syncd.resume.off;
		strlcpy(msg.path, syncd.resume.path, sizeof(msg.path));
		c->resume_offered = 1;
		return (conn_send(c, &msg, 0));
	}
	return (0);
}

/* The part of a resumed file that came before: into its hash. */
static int
hash_kept(struct conn *c)
{
	static uint8_t	 buf[1 << 16];
	uint64_t	 off = 0;
	ssize_t		 n;

	while (off < syncd.resume.off) {
		n = pread(c->f.fd, buf, syncd.resume.off - off < sizeof(buf) ?
		    syncd.resume.off - off : sizeof(buf), off);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return (-1);
		}
		crypto_generichash_update(&c->fh, buf, n);
		off += n;
	}
	return (0);
}

/* This side cannot go on: the sender is told why, then it closes. */
static int
local_error(struct conn *c, const char *what, const char *path)
{
	char	 why[PATH_LEN + 128];

	if (errno == EPERM && !fence_ok(c)) {
		recv_check_fence(c);
		return (-1);
	}
	snprintf(why, sizeof(why), "%s %s: %s", what, path, strerror(errno));
	log_warnx("peer %s (%s): %s", c->node, c->addr, why);
	strlcpy(syncd.last_error, why, sizeof(syncd.last_error));
	syncd.status_dirty = 1;
	if (c->in_file) {
		apply_file_abort(c->batch, &c->f);
		c->in_file = 0;
	}
	if (c->batch != NULL)
		apply_batch_abort(c->batch);
	conn_refuse(c, "%s", why);
	return (-1);
}

/*
 * Room in the batch for one more member in directory dir: 0, or -1 when
 * the session ended (the sender commits a batch at 1,000 files or
 * 4 MiB, and a batch never spans two directories).
 */
static int
batch_room(struct conn *c, uint8_t dir, int root)
{
	if (c->batch != NULL && (c->batch->n >= APPLY_MAXBATCH ||
	    c->batch->bytes >= APPLY_MAXBYTES)) {
		conn_close(c, "a batch past its limits (1,000 files, 4 MiB)");
		return (-1);
	}
	if (c->batch != NULL && c->batch->n > 0 && c->bdir != dir) {
		conn_close(c, "a batch across two directories");
		return (-1);
	}
	if (c->batch == NULL || c->batch->root != root) {
		apply_batch_free(c->batch);
		if ((c->batch = apply_batch_new(root)) == NULL)
			fatal("apply_batch_new");
	}
	c->bdir = dir;
	return (0);
}

/* A frame from the sender. */
int
recv_frame(struct conn *c, struct proto_msg *m)
{
	const char	*attic = c->attic[0] ? c->attic : NULL;
	uint8_t		 h[SCAN_HASHLEN];
	int		 root, rc;
	char		 why[PATH_MAX + 64];

	if (c->state == C_WAIT) {
		if (m->type != P_FENCE)
			goto unexpected;
		return (fence(c, m));
	}
	if (c->state != C_READY && m->type != P_DONE)
		goto unexpected;
	/* before anything that links, makes or unlinks: still current? */
	if ((m->type == P_LINK || m->type == P_MKDIR || m->type == P_HLINK ||
	    m->type == P_DELETE || m->type == P_BEGIN) && !fence_current(c)) {
		recv_check_fence(c);
		return (-1);
	}
	root = syncd.dirs[m->dir].fd;
	switch (m->type) {
	case P_HLINK:
		if (c->in_file)
			goto unexpected;
		if (batch_room(c, m->dir, root) == -1)
			return (-1);
		if ((rc = apply_hardlink(c->batch, m->path, m->target)) == -1) {
			if (errno == ENOENT || errno == ESTALE)
				return (0);	/* the file is not there now */
			return (local_error(c, "cannot link", m->path));
		}
		if (rc == 1)
			c->hcopies++;
		syncd.files++;
		return (0);
	case P_BEGIN:
		if (c->in_file)
			goto unexpected;
		if (batch_room(c, m->dir, root) == -1)
			return (-1);
		if (apply_file_begin(c->batch, m->path, m->mode, &c->f) == -1)
			return (local_error(c, "cannot write", m->path));
		c->in_file = 1;
		c->rmatch = syncd.resume.set && syncd.resume.dir == m->dir &&
		    syncd.resume.size == m->size &&
		    syncd.resume.mtime_ns == m->mtime_ns &&
		    strcmp(syncd.resume.path, m->path) == 0;
		c->fdir = m->dir;
		c->fsize = m->size;
		c->fnext = 0;
		crypto_generichash_init(&c->fh, NULL, 0, SCAN_HASHLEN);
		c->fmode = m->mode;
		c->fmtime = m->mtime_ns;
		return (0);
	case P_DATA:
		if (c->in_file && c->rmatch && c->fnext == 0) {
			c->rmatch = 0;
			if (m->off == syncd.resume.off) {
				/* the sender goes on where the last session
				 * broke: the kept file instead of a new one */
				apply_file_abort(c->batch, &c->f);
				if (apply_file_resume(c->batch,
				    syncd.resume.path, syncd.resume.tmp,
				    syncd.resume.off, syncd.resume.ino,
				    &c->f) == -1 || hash_kept(c) == -1) {
					if (c->f.fd != -1)	/* opened */
						apply_file_abort(c->batch,
						    &c->f);
					c->in_file = 0;
					recv_resume_drop();
					return (local_error(c, "cannot resume",
					    syncd.resume.path));
				}
				log_info("peer %s: %s resumed at %llu bytes",
				    c->node, syncd.resume.path,
				    (unsigned long long)syncd.resume.off);
				c->fnext = syncd.resume.off;
				scan_cache_keep(
				    syncd.dirs[syncd.resume.dir].cache, NULL);
				syncd.resume.set = 0;
			} else
				recv_resume_drop();
		}
		if (!c->in_file || m->off != c->fnext ||
		    m->datalen > c->fsize - c->fnext)
			goto unexpected;
		if (apply_file_write(&c->f, m->data, m->datalen, m->off) == -1)
			return (local_error(c, "cannot write", c->f.path));
		crypto_generichash_update(&c->fh, m->data, m->datalen);
		c->fnext += m->datalen;
		return (0);
	case P_END:
		if (!c->in_file)
			goto unexpected;
		c->in_file = 0;
		crypto_generichash_final(&c->fh, h, sizeof(h));
		if (c->fnext != c->fsize || sodium_is_zero(m->hash,
		    sizeof(m->hash))) {
			/* it changed while it was read: the next round */
			apply_file_abort(c->batch, &c->f);
			return (0);
		}
		if (sodium_memcmp(h, m->hash, sizeof(h)) != 0) {
			/* not what the sender read: never renamed in place */
			snprintf(why, sizeof(why), "%s: not the content the "
			    "sender read (its hash differs)", c->f.path);
			apply_file_abort(c->batch, &c->f);
			conn_close(c, why);
			return (-1);
		}
		if (apply_file_end(c->batch, &c->f, c->fmode, c->fmtime) == -1)
			return (local_error(c, "cannot write", m->path));
		syncd.files++;
		syncd.bytes += c->fsize;
		return (0);
	case P_LINK:
		if (c->in_file)
			goto unexpected;
		if (apply_symlink(root, m->path, m->target,
		    m->mtime_ns, attic) == -1)
			return (local_error(c, "cannot link", m->path));
		syncd.files++;
		return (0);
	case P_MKDIR:
		if (c->in_file)
			goto unexpected;
		if (apply_mkdir(root, m->path, m->mode) == -1)
			return (local_error(c, "cannot make directory",
			    m->path));
		return (0);
	case P_DELETE:
		if (c->in_file)
			goto unexpected;
		if (apply_remove(root, m->path, attic) == -1)
			return (local_error(c, "cannot delete", m->path));
		return (0);
	case P_COMMIT:
		if (c->in_file || m->seq != c->commits + 1)
			goto unexpected;
		if (c->batch != NULL && apply_batch_commit(c->batch,
		    fence_current, c, attic) == -1)
			return (local_error(c, "cannot commit in",
			    syncd.dirs[c->bdir].path));
		c->commits++;
		memset(&msg, 0, sizeof(msg));
		msg.type = P_ACK;
		msg.seq = c->commits;
		return (conn_send(c, &msg, 0));
	case P_DONE:
		if (c->in_file || (c->batch != NULL && c->batch->n > 0))
			goto unexpected;
		if (c->s.w.got_final) {
			conn_end(c);
			return (-1);
		}
		syncd.last_ok = (int64_t)time(NULL);
		syncd.last_error[0] = '\0';
		syncd.status_dirty = 1;
		if (c->hcopies > 0) {
			log_warnx("peer %s: %u names got a copy of their file, "
			    "which could not be hard-linked here (a file this "
			    "user does not own, another filesystem, or too "
			    "many links)", c->node, c->hcopies);
			c->hcopies = 0;
		}
		if (c->resume_offered) {
			/* a round done without it: the part is not needed */
			recv_resume_drop();
			c->resume_offered = 0;
		}
		if (c->attic[0] != '\0') {
			/* the epoch's first round is over: in place from now */
			uint64_t	 n = apply_attic_taken();

			syncd.attic_done = c->epoch;
			c->attic[0] = '\0';
			if (n > 0)
				syncd_attics(c->epoch, n);
		}
		memset(&msg, 0, sizeof(msg));
		msg.type = P_DONE;
		return (conn_send(c, &msg, 0));
	default:
		break;
	}
unexpected:
	snprintf(why, sizeof(why), "unexpected frame %u", m->type);
	conn_close(c, why);
	return (-1);
}

/*
 * The session ended: a large file cut off stays, for the next session
 * to resume; what else was begun goes.
 */
void
recv_abort(struct conn *c)
{
	/* kept only when a part is left to send: an offset at the file's
	 * end would be a RESUME the sender must refuse, session after
	 * session */
	if (c->in_file && c->fnext >= RESUME_CHUNK && c->f.path != NULL &&
	    c->fnext - c->fnext % RESUME_CHUNK < c->fsize) {
		recv_resume_drop();
		syncd.resume.set = 1;
		syncd.resume.dir = c->fdir;
		strlcpy(syncd.resume.path, c->f.path,
		    sizeof(syncd.resume.path));
		strlcpy(syncd.resume.tmp, c->f.tmp, sizeof(syncd.resume.tmp));
		strlcpy(syncd.resume.holder, c->node,
		    sizeof(syncd.resume.holder));
		syncd.resume.epoch = c->epoch;
		syncd.resume.size = c->fsize;
		syncd.resume.mtime_ns = c->fmtime;
		syncd.resume.off = c->fnext - c->fnext % RESUME_CHUNK;
		scan_cache_keep(syncd.dirs[c->fdir].cache, c->f.tmp);
		log_info("kept %llu of %llu bytes of %s to resume",
		    (unsigned long long)syncd.resume.off,
		    (unsigned long long)c->fsize, c->f.path);
		syncd.resume.ino = c->f.ino;
		apply_file_keep(&c->f);
		c->in_file = 0;
	}
	if (c->in_file) {
		apply_file_abort(c->batch, &c->f);
		c->in_file = 0;
	}
	if (c->batch != NULL)
		apply_batch_abort(c->batch);
}

/* The kept part of a file goes: replaced, refused or not needed. */
void
recv_resume_drop(void)
{
	if (!syncd.resume.set)
		return;
	(void)apply_unlink_temp(syncd.dirs[syncd.resume.dir].fd,
	    syncd.resume.path, syncd.resume.tmp);
	scan_cache_keep(syncd.dirs[syncd.resume.dir].cache, NULL);
	syncd.resume.set = 0;
}
