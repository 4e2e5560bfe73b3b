/*
 * syncd: scanning a synced directory into a path-sorted manifest of
 * (path, type, mode, size, mtime ns, BLAKE2b-256).  A rescan of an
 * unchanged tree reads no file: a receiver caches hashes by (dev, ino,
 * size, mtime ns, ctime ns); a sender, which keeps its last manifest
 * anyway, takes them from the entry of the same path there when inode,
 * size, mtime and ctime are the same, and keeps no cache besides.  Symlinks are recorded as links, never followed;
 * "exclude" patterns are fnmatch(3) with FNM_PATHNAME on the relative
 * path.  Everything is opened beneath the directory fd with O_NOFOLLOW.
 * A file with several names in the tree is recorded once, at its first
 * path in sorted order; its other names are SCAN_HLINK entries naming
 * that path.  What is neither file, directory nor symlink (a FIFO, a
 * socket, a device) is skipped, and told to the cache's callback.
 */

#include <sys/types.h>
#include <sys/stat.h>
#ifndef __unused
#define __unused	__attribute__((__unused__))	/* for sys/tree.h */
#endif
#include <sys/tree.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"

struct cache_ent {
	RB_ENTRY(cache_ent)	 entry;
	dev_t			 dev;
	ino_t			 ino;
	uint64_t		 size;
	int64_t			 mtime_ns;
	int64_t			 ctime_ns;
	uint8_t			 hash[SCAN_HASHLEN];
};

static int
cache_cmp(struct cache_ent *a, struct cache_ent *b)
{
	if (a->dev != b->dev)
		return (a->dev < b->dev ? -1 : 1);
	if (a->ino != b->ino)
		return (a->ino < b->ino ? -1 : 1);
	return (0);
}

RB_HEAD(cache_tree, cache_ent);
RB_GENERATE_STATIC(cache_tree, cache_ent, entry, cache_cmp)

struct scan_cache {
	struct cache_tree	 t;
	int			 by_path;	/* no tree: prev instead */
	const struct scan_manifest *prev;
	int			 clean_temps;
	int			 lazy;	/* hash only what the cache knows */
	char			 keep[32];	/* a temporary file to leave */
	scan_skip_cb		 on_skip;
	void			*on_skip_arg;
};

struct scan_cache *
scan_cache_new(void)
{
	struct scan_cache	*c;

	if ((c = calloc(1, sizeof(*c))) != NULL)
		RB_INIT(&c->t);
	return (c);
}

/* Scans with this cache remove the temporary files they come across. */
void
scan_cache_clean_temps(struct scan_cache *c, int on)
{
	c->clean_temps = on;
}

/* The temporary file a resumption needs: not cleaned. */
void
scan_cache_keep(struct scan_cache *c, const char *name)
{
	strlcpy(c->keep, name ? name : "", sizeof(c->keep));
}

/*
 * A lazy scan leaves a file the cache does not know unhashed: the
 * sender hashes it while it sends it, or when a peer's entry can only
 * be told apart by its content (scan_hash_entry).
 */
void
scan_cache_lazy(struct scan_cache *c, int on)
{
	c->lazy = on;
}

/* Each path a scan skips goes to cb, once a scan. */
void
scan_cache_on_skip(struct scan_cache *c, scan_skip_cb cb, void *arg)
{
	c->on_skip = cb;
	c->on_skip_arg = arg;
}

static void
cache_empty(struct scan_cache *c)
{
	struct cache_ent	*e, *next;

	for (e = RB_MIN(cache_tree, &c->t); e != NULL; e = next) {
		next = RB_NEXT(cache_tree, &c->t, e);
		RB_REMOVE(cache_tree, &c->t, e);
		free(e);
	}
}

/*
 * A sender's cache: hashes come from prev, the last manifest (sorted by
 * path), which must stay valid until the next call; with no last
 * manifest (NULL), from the tree as it is: a node that takes over has
 * its receiver's cache for its first scan.  Nothing is added to the
 * tree meanwhile; scan_cache_forget empties it once a manifest exists.
 * To go back to a receiver's cache: scan_cache_tree.
 */
void
scan_cache_by_path(struct scan_cache *c, const struct scan_manifest *prev)
{
	c->by_path = 1;
	c->prev = prev;
}

/* The tree's entries go: a sender has its last manifest instead. */
void
scan_cache_forget(struct scan_cache *c)
{
	cache_empty(c);
}

/*
 * A receiver's cache: by inode, in the tree, which gets the hashed
 * files of m, the last manifest of this directory when it was a
 * sender's (NULL: none), whose filesystem is dev: a standby that was
 * active does not read its whole tree again at its first session.
 */
void
scan_cache_tree(struct scan_cache *c, dev_t dev, const struct scan_manifest *m)
{
	struct stat	 st;
	size_t		 i;

	c->by_path = 0;
	c->prev = NULL;
	for (i = 0; m != NULL && i < m->n; i++) {
		if (m->e[i].type != SCAN_FILE || !m->e[i].hashed)
			continue;
		memset(&st, 0, sizeof(st));
		st.st_dev = dev;
		st.st_ino = m->e[i].ino;
		st.st_size = m->e[i].size;
		st.st_mtim.tv_sec = m->e[i].mtime_ns / 1000000000LL;
		st.st_mtim.tv_nsec = m->e[i].mtime_ns % 1000000000LL;
		st.st_ctim.tv_sec = m->e[i].ctime_ns / 1000000000LL;
		st.st_ctim.tv_nsec = m->e[i].ctime_ns % 1000000000LL;
		scan_cache_put(c, &st, m->e[i].hash);
	}
}

void
scan_cache_free(struct scan_cache *c)
{
	if (c == NULL)
		return;
	cache_empty(c);
	free(c);
}

static int64_t
ns(const struct timespec *ts)
{
	return ((int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec);
}

static int
entry_cmp_key(const void *k, const void *e)
{
	return (strcmp(k, ((const struct scan_entry *)e)->path));
}

/* What the cache knows of the file at path, looked at as st: its hash. */
static int
cache_get(struct scan_cache *c, const char *path, const struct stat *st,
    uint8_t out[SCAN_HASHLEN])
{
	struct cache_ent		 key, *e;
	const struct scan_entry		*p;

	if (c->by_path && c->prev != NULL) {
		if (c->prev->n == 0 || (p = bsearch(path, c->prev->e,
		    c->prev->n, sizeof(*p), entry_cmp_key)) == NULL)
			return (0);
		if ((p->type != SCAN_FILE && p->type != SCAN_HLINK) ||
		    !p->hashed || p->ino != st->st_ino ||
		    p->size != (uint64_t)st->st_size ||
		    p->mtime_ns != ns(&st->st_mtim) ||
		    p->ctime_ns != ns(&st->st_ctim))
			return (0);
		memcpy(out, p->hash, SCAN_HASHLEN);
		return (1);
	}
	key.dev = st->st_dev;
	key.ino = st->st_ino;
	if ((e = RB_FIND(cache_tree, &c->t, &key)) != NULL &&
	    e->size == (uint64_t)st->st_size &&
	    e->mtime_ns == ns(&st->st_mtim) && e->ctime_ns == ns(&st->st_ctim)) {
		memcpy(out, e->hash, SCAN_HASHLEN);
		return (1);
	}
	return (0);
}

/* name in dirfd is path relative to the root */
static int
hash_file(int dirfd, const char *name, const char *path,
    const struct stat *st, struct scan_cache *c, uint8_t out[SCAN_HASHLEN],
    struct scan_stats *s)
{
	crypto_generichash_state	 h;
	struct stat			 fst;
	static uint8_t			 buf[1 << 16];
	ssize_t				 n;
	int				 fd;

	if (cache_get(c, path, st, out))
		return (0);
	if (c->lazy) {
		errno = EAGAIN;
		return (-1);
	}
	/* non-blocking, and then it must be the file that was looked at: a
	 * FIFO or another file swapped in meanwhile is left unhashed */
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode) ||
	    fst.st_dev != st->st_dev || fst.st_ino != st->st_ino) {
		close(fd);
		errno = EAGAIN;
		return (-1);
	}
	crypto_generichash_init(&h, NULL, 0, SCAN_HASHLEN);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		crypto_generichash_update(&h, buf, n);
		s->hashed_bytes += n;
	}
	close(fd);
	if (n == -1)
		return (-1);
	crypto_generichash_final(&h, out, SCAN_HASHLEN);
	s->hashed_files++;
	scan_cache_put(c, st, out);
	return (0);
}

/* What a file with these attributes holds, as its reader found. */
void
scan_cache_put(struct scan_cache *c, const struct stat *st,
    const uint8_t hash[SCAN_HASHLEN])
{
	struct cache_ent	 key, *e;

	if (c->by_path)
		return;		/* the entry keeps it (the caller's) */
	key.dev = st->st_dev;
	key.ino = st->st_ino;
	if ((e = RB_FIND(cache_tree, &c->t, &key)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return;
		e->dev = st->st_dev;
		e->ino = st->st_ino;
		RB_INSERT(cache_tree, &c->t, e);
	}
	e->size = st->st_size;
	e->mtime_ns = ns(&st->st_mtim);
	e->ctime_ns = ns(&st->st_ctim);
	memcpy(e->hash, hash, SCAN_HASHLEN);
}

/* The hash of an entry a lazy scan left out, now. */
int
scan_hash_entry(int root, struct scan_cache *c, struct scan_entry *e)
{
	struct scan_stats	 s;
	struct stat		 st;
	int			 lazy = c->lazy;
	int			 rc;

	if (fstatat(root, e->path, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return (-1);
	/* the file scanned, unchanged: its hash is the entry's, which a
	 * sender's next scan may take for the same inode and ctime */
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size ||
	    ns(&st.st_mtim) != e->mtime_ns || st.st_ino != e->ino ||
	    ns(&st.st_ctim) != e->ctime_ns) {
		errno = ESTALE;	/* changed since the scan: ship it */
		return (-1);
	}
	memset(&s, 0, sizeof(s));
	c->lazy = 0;
	rc = hash_file(root, e->path, e->path, &st, c, e->hash, &s);
	c->lazy = lazy;
	if (rc == 0)
		e->hashed = 1;
	return (rc);
}


/*
 * A temporary file of syncd's making: ".failoverd." and 8 hex digits, a
 * regular file of the sync user.  The application's own ".failoverd.*"
 * files are left alone.
 */
static int
own_temp(int dirfd, const char *name)
{
	struct stat	 st;
	size_t		 i;

	if (strlen(name) != 19)
		return (0);
	for (i = 11; i < 19; i++)
		if (!isxdigit((unsigned char)name[i]) ||
		    isupper((unsigned char)name[i]))
			return (0);
	return (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_uid == geteuid());
}
/*
 * A pattern with a slash matches the path relative to the directory
 * (FNM_PATHNAME); one without matches the name at any depth, so
 * "*.tmp" leaves out every temporary file, as with rsync.
 */
static int
excluded(char * const *ex, const char *path)
{
	const char	*base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (; ex != NULL && *ex != NULL; ex++)
		if (fnmatch(*ex, strchr(*ex, '/') ? path : base,
		    FNM_PATHNAME) == 0)
			return (1);
	return (0);
}

/*
 * The bytes of a manifest's paths and targets, in blocks: no allocation
 * of its own for each string (its header and rounding were half of a
 * short path's cost).
 */
#define STRS_BLOCK	(256 * 1024)

struct scan_strs {
	struct scan_strs	*next;
	size_t			 used, size;
	char			 b[];
};

char *
scan_strdup(struct scan_manifest *m, const char *str)
{
	struct scan_strs	*k = m->strs;
	size_t			 len = strlen(str) + 1, size;
	char			*p;

	if (k == NULL || k->size - k->used < len) {
		size = len > STRS_BLOCK - sizeof(*k) ? len :
		    STRS_BLOCK - sizeof(*k);
		if ((k = malloc(sizeof(*k) + size)) == NULL)
			return (NULL);
		k->size = size;
		k->used = 0;
		k->next = m->strs;
		m->strs = k;
	}
	p = k->b + k->used;
	memcpy(p, str, len);
	k->used += len;
	return (p);
}

static struct scan_entry *
add(struct scan_manifest *m, const char *path)
{
	struct scan_entry	*e;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap + m->cap / 2 : 256;
		if ((e = reallocarray(m->e, m->cap, sizeof(*e))) == NULL)
			return (NULL);
		m->e = e;
	}
	e = &m->e[m->n];
	memset(e, 0, sizeof(*e));
	if ((e->path = scan_strdup(m, path)) == NULL)
		return (NULL);
	m->n++;
	return (e);
}

static int
walk(int dirfd, const char *prefix, char * const *ex, struct scan_cache *c,
    dev_t dev, struct scan_manifest *m, struct scan_stats *s)
{
	struct scan_entry	*e;
	struct dirent		*de;
	struct stat		 st;
	char			 path[PATH_MAX], target[PATH_MAX];
	ssize_t			 n;
	DIR			*d;
	int			 fd, rc = 0;

	if ((d = fdopendir(dirfd)) == NULL) {
		close(dirfd);
		return (-1);
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".failoverd-attic") == 0)
			continue;
		if (strncmp(de->d_name, ".failoverd.", 11) == 0) {
			/* reserved: never shipped; removed only when it is a
			 * batch's temporary file a crash left (a receiver) */
			if (c->clean_temps && own_temp(dirfd, de->d_name) &&
			    (c->keep[0] == '\0' ||
			    strcmp(de->d_name, c->keep) != 0))
				unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] ? "/" : "", de->d_name) >= sizeof(path))
			continue;
		if (excluded(ex, path))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)	/* gone meanwhile */
				continue;
			rc = -1;
			break;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
		    !S_ISLNK(st.st_mode)) {
			s->skipped++;
			if (c->on_skip != NULL)
				c->on_skip(path, st.st_mode, c->on_skip_arg);
			continue;
		}
		if ((e = add(m, path)) == NULL) {
			rc = -1;
			break;
		}
		e->mode = st.st_mode & 07777;
		e->mtime_ns = ns(&st.st_mtim);
		e->ctime_ns = ns(&st.st_ctim);
		e->ino = st.st_ino;
		/* names of one file: on the directory's filesystem only */
		e->nlink = st.st_dev == dev ? st.st_nlink : 1;
		if (S_ISREG(st.st_mode)) {
			e->type = SCAN_FILE;
			e->size = st.st_size;
			s->files++;
			if (hash_file(dirfd, de->d_name, path, &st, c,
			    e->hash, s) == 0)
				e->hashed = 1;
			else if (errno != ENOENT && errno != EAGAIN)
				rc = -1;
		} else if (S_ISLNK(st.st_mode)) {
			e->type = SCAN_LINK;
			n = readlinkat(dirfd, de->d_name, target,
			    sizeof(target) - 1);
			target[n < 0 ? 0 : n] = '\0';
			if ((e->link = scan_strdup(m, target)) == NULL)
				rc = -1;
		} else {
			e->type = SCAN_DIR;
			fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd != -1)
				rc = walk(fd, path, ex, c, dev, m, s);
		}
	}
	closedir(d);
	return (rc);
}

static int
entry_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct scan_entry *)a)->path,
	    ((const struct scan_entry *)b)->path));
}

/* Files with several names, by inode, then in path order. */
static const struct scan_manifest *inode_m;

static int
inode_cmp(const void *a, const void *b)
{
	const struct scan_entry	*x = &inode_m->e[*(const size_t *)a];
	const struct scan_entry	*y = &inode_m->e[*(const size_t *)b];

	if (x->ino != y->ino)
		return (x->ino < y->ino ? -1 : 1);
	return (*(const size_t *)a < *(const size_t *)b ? -1 : 1);
}

/*
 * Of each file with several names in the tree, every name but the first
 * (in path order) becomes a SCAN_HLINK to the first, which keeps size,
 * mode, mtime and hash.  Names outside the tree do not count.
 */
static int
hardlinks(struct scan_manifest *m, struct scan_stats *s)
{
	size_t			*ix, n = 0, i, first = 0;
	struct scan_entry	*e, *f;

	for (i = 0; i < m->n; i++)
		if (m->e[i].type == SCAN_FILE && m->e[i].nlink > 1)
			n++;
	if (n < 2)
		return (0);
	if ((ix = calloc(n, sizeof(*ix))) == NULL)
		return (-1);
	for (i = 0, n = 0; i < m->n; i++)
		if (m->e[i].type == SCAN_FILE && m->e[i].nlink > 1)
			ix[n++] = i;
	inode_m = m;
	qsort(ix, n, sizeof(*ix), inode_cmp);
	for (i = 1; i < n; i++) {
		e = &m->e[ix[i]];
		f = &m->e[ix[first]];
		if (e->ino != f->ino) {
			first = i;
			continue;
		}
		if ((e->link = scan_strdup(m, f->path)) == NULL) {
			free(ix);
			return (-1);
		}
		e->type = SCAN_HLINK;
		e->size = f->size;
		e->mode = f->mode;
		e->mtime_ns = f->mtime_ns;
		e->hashed = f->hashed;
		memcpy(e->hash, f->hash, SCAN_HASHLEN);
		s->files--;
		s->hardlinks++;
	}
	free(ix);
	return (0);
}

/*
 * Scan beneath root (which stays open) into m, sorted by path.
 * ex is a NULL-terminated list of exclude patterns, or NULL.
 */
int
scan_dir(int root, char * const *ex, struct scan_cache *c,
    struct scan_manifest *m, struct scan_stats *s)
{
	struct scan_entry	*e;
	struct stat		 st;
	int			 fd;

	memset(s, 0, sizeof(*s));
	if ((fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &st) == -1) {
		close(fd);
		return (-1);
	}
	/* about as many entries as the last time: room for them at once,
	 * rather than the slack of growing */
	if (m->cap == 0 && c->by_path && c->prev != NULL && c->prev->n > 0) {
		m->cap = c->prev->n + c->prev->n / 32 + 64;
		if ((m->e = reallocarray(NULL, m->cap, sizeof(*m->e))) ==
		    NULL) {
			m->cap = 0;
			close(fd);
			return (-1);
		}
	}
	if (walk(fd, "", ex, c, st.st_dev, m, s) == -1)
		return (-1);
	if (m->n > 1)
		qsort(m->e, m->n, sizeof(*m->e), entry_cmp);
	/* no room kept for growth: a manifest is not added to again */
	if (m->n > 0 && m->n < m->cap &&
	    (e = reallocarray(m->e, m->n, sizeof(*e))) != NULL) {
		m->e = e;
		m->cap = m->n;
	}
	return (hardlinks(m, s));
}

void
scan_manifest_free(struct scan_manifest *m)
{
	struct scan_strs	*k, *next;

	for (k = m->strs; k != NULL; k = next) {
		next = k->next;
		free(k);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}
