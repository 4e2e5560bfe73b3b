/*
 * syncd: applying files beneath a directory fd.  Every path a peer sends
 * is checked (relative, no "." or "..", no empty component, no NUL, not
 * over-long) and resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): nothing a peer names can
 * lead outside the directory, or through a symlink.
 *
 * A file is written to a temporary file in its own directory, given its
 * mode and mtime, and closed; a batch is flushed (one syncfs of the
 * tree's filesystem), renamed into place with renameat, and each touched
 * directory is fsynced once.  Until the rename a reader sees the old
 * file; after it, the new one: never part.  Before every rename or
 * unlink the caller's fence is asked again.  In the first session of an
 * epoch what is replaced or deleted moves to the attic instead.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"

int
apply_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how	 how;

#ifdef FO_VALGRIND
	/* valgrind has no openat2: the valgrind build does not confine
	 * the path beneath dirfd, only refuses a last symbolic link */
	if (path[0] != '/' && strstr(path, "..") == NULL)
		return (openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW,
		    mode));
	errno = EXDEV;
	return (-1);
#endif
	memset(&how, 0, sizeof(how));
	how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	return (syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

/* utimensat's times: atime left alone, mtime from nanoseconds. */
static void
mtime_ts(int64_t mtime_ns, struct timespec ts[2])
{
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = mtime_ns / 1000000000LL;
	ts[1].tv_nsec = mtime_ns % 1000000000LL;
	if (ts[1].tv_nsec < 0) {
		ts[1].tv_sec--;
		ts[1].tv_nsec += 1000000000LL;
	}
}

/* A relative path of plain components, as a peer may name a file. */
int
apply_path_valid(const char *p, size_t len)
{
	size_t	 i, start = 0;

	if (len == 0 || len >= PATH_MAX || memchr(p, '\0', len) != NULL ||
	    p[0] == '/')
		return (0);
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (i == start || i - start > NAME_MAX)
			return (0);	/* empty or over-long component */
		if ((i - start == 1 && p[start] == '.') ||
		    (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
			return (0);
		start = i + 1;
	}
	return (1);
}

/*
 * Does a path name what only syncd makes: the attic (".failoverd-attic")
 * or a temporary file (".failoverd.*"), in any component?  A peer may
 * not name them, and a scan neither ships nor deletes them.
 */
int
apply_path_reserved(const char *p)
{
	const char	*c = p;

	for (;;) {
		if (strncmp(c, ".failoverd.", 11) == 0 ||
		    (strncmp(c, ".failoverd-attic", 16) == 0 &&
		    (c[16] == '/' || c[16] == '\0')))
			return (1);
		if ((c = strchr(c, '/')) == NULL)
			return (0);
		c++;
	}
}

/*
 * Open the directory that path lands in, creating the missing ones when
 * create is set; base gets the last component.
 */
int
apply_open_parent(int root, const char *path, int create, char *base,
    size_t baselen)
{
	char		 dir[PATH_MAX], c;
	const char	*slash;
	char		*p;
	int		 fd;

	if (!apply_path_valid(path, strlen(path))) {
		errno = EINVAL;
		return (-1);
	}
	slash = strrchr(path, '/');
	if (strlcpy(base, slash ? slash + 1 : path, baselen) >= baselen) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (slash == NULL)
		return (apply_open_beneath(root, ".", O_RDONLY | O_DIRECTORY,
		    0));
	memcpy(dir, path, slash - path);
	dir[slash - path] = '\0';
	if ((fd = apply_open_beneath(root, dir, O_RDONLY | O_DIRECTORY,
	    0)) != -1 || errno != ENOENT || !create)
		return (fd);
	/* create each missing level, every step resolved beneath root */
	for (p = dir; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if ((fd = apply_open_beneath(root, dir, O_RDONLY | O_DIRECTORY,
		    0)) == -1) {
			char	 comp[NAME_MAX + 1];
			char	*last = strrchr(dir, '/');
			int	 up;

			if (errno != ENOENT)
				return (-1);
			if (last != NULL) {
				*last = '\0';
				up = apply_open_beneath(root, dir,
				    O_RDONLY | O_DIRECTORY, 0);
				strlcpy(comp, last + 1, sizeof(comp));
				*last = '/';
			} else {
				up = apply_open_beneath(root, ".",
				    O_RDONLY | O_DIRECTORY, 0);
				strlcpy(comp, dir, sizeof(comp));
			}
			if (up == -1)
				return (-1);
			if (mkdirat(up, comp, 0755) == -1 && errno != EEXIST) {
				close(up);
				return (-1);
			}
			close(up);
		} else
			close(fd);
		*p = c;
		if (c == '\0')
			break;
	}
	return (apply_open_beneath(root, dir, O_RDONLY | O_DIRECTORY, 0));
}

/* The directory a batch file lands in: shared by the files of a batch. */
static int
batch_dir(struct apply_batch *b, const char *path, char *base, size_t len)
{
	struct apply_dir	*d;
	const char		*slash = strrchr(path, '/');
	size_t			 dl = slash ? (size_t)(slash - path) : 0;
	int			 i, fd;

	for (i = b->nd; i-- > 0; )
		if (strlen(b->d[i].path) == dl &&
		    strncmp(b->d[i].path, path, dl) == 0) {
			if (!apply_path_valid(path, strlen(path)) ||
			    strlcpy(base, slash ? slash + 1 : path, len) >= len) {
				errno = EINVAL;
				return (-1);
			}
			return (i);
		}
	if ((fd = apply_open_parent(b->root, path, 1, base, len)) == -1)
		return (-1);
	if (b->nd == b->dcap) {
		b->dcap = b->dcap ? b->dcap * 2 : 16;
		if ((d = reallocarray(b->d, b->dcap, sizeof(*d))) == NULL) {
			close(fd);
			return (-1);
		}
		b->d = d;
	}
	if ((b->d[b->nd].path = strndup(path, dl)) == NULL) {
		close(fd);
		return (-1);
	}
	b->d[b->nd].fd = fd;
	return (b->nd++);
}

struct apply_batch *
apply_batch_new(int root)
{
	struct apply_batch	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return (NULL);
	b->root = root;
	return (b);
}

void
apply_batch_free(struct apply_batch *b)
{
	if (b == NULL)
		return;
	apply_batch_abort(b);
	free(b->d);
	free(b);
}

/* A file of the batch: room for it, and the directory it lands in. */
static int
file_place(struct apply_batch *b, const char *path, struct apply_file *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (b->n >= APPLY_MAXBATCH) {
		errno = E2BIG;
		return (-1);
	}
	if ((f->dir = batch_dir(b, path, f->name, sizeof(f->name))) == -1)
		return (-1);
	return (0);
}

/*
 * The process's umask, read before the sandbox (which has no umask):
 * a new file may get its mode at creation when the umask leaves it
 * whole.  Until apply_init, every file is made 0600 and set at its end.
 */
static mode_t	 cur_umask = 07777;

void
apply_init(void)
{
	cur_umask = umask(077);
	umask(cur_umask);
}

/*
 * A new temporary member for path.  Its name is a random number drawn
 * once and counted on from there (O_EXCL makes a collision a retry, not
 * a clobber).  mode is its final mode where it can be given at creation
 * (no sticky bit, the owner can read and write, so a kept part can be
 * reopened; the umask leaves it whole); else the file is 0600 until
 * apply_file_end sets it.
 */
int
apply_file_begin(struct apply_batch *b, const char *path, mode_t mode,
    struct apply_file *f)
{
	static uint32_t	 next;
	static int	 seeded;
	struct stat	 st;
	int		 tries;

	if (file_place(b, path, f) == -1)
		return (-1);
	if (!seeded) {
		next = randombytes_random();
		seeded = 1;
	}
	mode &= 01777;
	if ((mode & 01600) != 0600 || (mode & cur_umask) != 0)
		mode = 0600;
	f->cmode = mode;
	for (tries = 0; tries < 10; tries++) {
		snprintf(f->tmp, sizeof(f->tmp), ".failoverd.%08x", next++);
		f->fd = apply_open_beneath(b->d[f->dir].fd, f->tmp,
		    O_WRONLY | O_CREAT | O_EXCL, mode);
		if (f->fd != -1 || errno != EEXIST)
			break;
		next = randombytes_random();
	}
	if (f->fd == -1)
		return (-1);
	/* its inode: a hard link to it checks it is still this file; its
	 * mode: a default ACL of the directory, not the umask, may have
	 * masked it (apply_file_end then sets it) */
	if (fstat(f->fd, &st) == -1 || (f->path = strdup(path)) == NULL) {
		apply_file_abort(b, f);
		return (-1);
	}
	f->ino = st.st_ino;
	f->cmode = st.st_mode & 07777;
	return (0);
}

/*
 * Go on with a temporary file a broken session left (its name tmp, in
 * path's directory), holding the first off bytes.
 */
int
apply_file_resume(struct apply_batch *b, const char *path, const char *tmp,
    uint64_t off, uint64_t ino, struct apply_file *f)
{
	struct stat	 st;

	if (file_place(b, path, f) == -1)
		return (-1);
	if (strlcpy(f->tmp, tmp, sizeof(f->tmp)) >= sizeof(f->tmp) ||
	    strncmp(tmp, ".failoverd.", 11) != 0) {
		errno = EINVAL;
		return (-1);
	}
	/* without blocking, and only the file this process kept: not a FIFO
	 * or another file put in its place meanwhile */
	if ((f->fd = apply_open_beneath(b->d[f->dir].fd, tmp,
	    O_RDWR | O_NONBLOCK, 0)) == -1)
		return (-1);
	if (fstat(f->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_ino != ino || st.st_uid != geteuid() ||
	    (uint64_t)st.st_size < off) {
		close(f->fd);
		f->fd = -1;
		errno = ESTALE;
		return (-1);
	}
	if ((f->path = strdup(path)) == NULL) {
		close(f->fd);
		f->fd = -1;
		return (-1);
	}
	f->ino = ino;
	f->size = f->kicked = off;
	f->resumed = 1;
	return (0);
}

/* A file cut off by a broken session: closed, left for a resumption. */
void
apply_file_keep(struct apply_file *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
}

/* A kept file that will not be resumed. */
int
apply_unlink_temp(int root, const char *path, const char *tmp)
{
	char	 base[NAME_MAX + 1];
	int	 parent, rc;

	if (strncmp(tmp, ".failoverd.", 11) != 0 || strchr(tmp, '/')) {
		errno = EINVAL;
		return (-1);
	}
	if ((parent = apply_open_parent(root, path, 0, base,
	    sizeof(base))) == -1)
		return (-1);
	rc = unlinkat(parent, tmp, 0);
	close(parent);
	return (rc);
}

int
apply_file_write(struct apply_file *f, const void *buf, size_t len,
    uint64_t off)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = pwrite(f->fd, p, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
		off += n;
		if (off > f->size)
			f->size = off;
	}
	/*
	 * Start the writeback of what came so far, so the disk works while
	 * the rest arrives and the flush at the commit has little left.
	 */
	if (f->size - f->kicked >= APPLY_KICK) {
		(void)sync_file_range(f->fd, f->kicked, f->size - f->kicked,
		    SYNC_FILE_RANGE_WRITE);
		f->kicked = f->size;
	}
	return (0);
}

/* A file given up before it joined its batch: its temporary file goes. */
void
apply_file_abort(struct apply_batch *b, struct apply_file *f)
{
	if (f->fd != -1) {
		unlinkat(b->d[f->dir].fd, f->tmp, 0);
		close(f->fd);
		f->fd = -1;
	}
	free(f->path);
	f->path = NULL;
}

/*
 * Mode (masked with 01777) and mtime; the file joins the batch.  A new
 * file is as long as what was written to it; only a resumed one, which
 * may hold more, is cut to size.  The writeback of a file large enough
 * to have been started while it came is started for its tail; a small
 * file waits for the batch's syncfs, one flush for all of them.
 */
int
apply_file_end(struct apply_batch *b, struct apply_file *f, mode_t mode,
    int64_t mtime_ns)
{
	struct timespec	 ts[2];

	mtime_ts(mtime_ns, ts);
	if ((f->resumed && ftruncate(f->fd, f->size) == -1) ||
	    ((mode & 01777) != f->cmode && fchmod(f->fd, mode & 01777) == -1) ||
	    futimens(f->fd, ts) == -1 || b->n >= APPLY_MAXBATCH) {
		apply_file_abort(b, f);
		return (-1);
	}
	if (f->kicked > 0 && f->size > f->kicked)
		(void)sync_file_range(f->fd, f->kicked, 0,
		    SYNC_FILE_RANGE_WRITE);
	close(f->fd);
	f->fd = -1;
	b->f[b->n++] = *f;
	b->bytes += f->size;
	return (0);
}

/*
 * Keep what is at path in the attic (ENOENT: nothing was there).  What
 * is about to be replaced is linked there, so that the path never goes
 * missing between the two renames (a reader sees the old file or the
 * new one); what is deleted, or a directory, is moved.
 */
static uint64_t	 attic_kept;

static int
to_attic(int root, int parent, const char *name, const char *path,
    const char *attic, int replacing)
{
	char	 ap[PATH_MAX], base[NAME_MAX + 1];
	int	 afd, rc;

	if ((size_t)snprintf(ap, sizeof(ap), "%s/%s", attic, path) >=
	    sizeof(ap)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (faccessat(parent, name, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
		return (errno == ENOENT ? 0 : -1);
	if ((afd = apply_open_parent(root, ap, 1, base, sizeof(base))) == -1)
		return (-1);
	rc = -1;
	if (replacing) {
		/* an older copy of the same epoch's attic gives way */
		if ((rc = linkat(parent, name, afd, base, 0)) == -1 &&
		    errno == EEXIST && unlinkat(afd, base, 0) == 0)
			rc = linkat(parent, name, afd, base, 0);
	}
	if (rc == -1)
		rc = renameat(parent, name, afd, base);
	if (rc == 0)
		rc = fsync(afd);
	if (rc == 0)
		attic_kept++;
	close(afd);
	return (rc);
}

/* How many entries went to an attic since the last call. */
uint64_t
apply_attic_taken(void)
{
	uint64_t	 n = attic_kept;

	attic_kept = 0;
	return (n);
}

/* A directory entry that is a directory (not a link to one). */
static int
is_dir(int dirfd, const struct dirent *de)
{
	struct stat	 st;

	if (de->d_type != DT_UNKNOWN)
		return (de->d_type == DT_DIR);
	return (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode));
}

/*
 * Walk what name holds beneath dirfd, depth first: count the entries
 * that are not directories, and remove everything when rm is set.
 */
static int
walk(int dirfd, const char *name, int rm, uint64_t *files, int depth)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, rc = 0;

	if (depth > 128) {
		errno = ELOOP;
		return (-1);
	}
	if ((fd = apply_open_beneath(dirfd, name, O_RDONLY | O_DIRECTORY,
	    0)) == -1)
		return (errno == ENOENT ? 0 : -1);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return (-1);
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (is_dir(fd, de))
			rc = walk(fd, de->d_name, rm, files, depth + 1);
		else {
			(*files)++;
			if (rm && unlinkat(fd, de->d_name, 0) == -1 &&
			    errno != ENOENT)
				rc = -1;
		}
	}
	closedir(d);
	if (rc == 0 && rm && unlinkat(dirfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT)
		rc = -1;
	return (rc);
}

static int
epoch_cmp(const void *a, const void *b)
{
	const struct apply_attic *x = a, *y = b;

	return (x->epoch < y->epoch ? 1 : x->epoch > y->epoch ? -1 : 0);
}

/*
 * The attics beneath root, newest first, at most max, with the number of
 * files each holds; with keep > 0 those past the newest keep are removed
 * first.  The number found, or -1.
 */
int
apply_attic_list(int root, unsigned int keep, struct apply_attic *a,
    int max)
{
	struct apply_attic	*all = NULL, *na;
	struct dirent		*de;
	DIR			*d;
	char			*end;
	size_t			 n = 0, cap = 0, i;
	long long		 e;
	int			 fd, rc = 0, out = 0;

	if ((fd = apply_open_beneath(root, ATTIC_DIR, O_RDONLY | O_DIRECTORY,
	    0)) == -1)
		return (errno == ENOENT ? 0 : -1);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		errno = 0;
		e = strtoll(de->d_name, &end, 10);
		if (!is_dir(fd, de) || *end != '\0' || end == de->d_name ||
		    e < 1 || errno != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((na = reallocarray(all, cap,
			    sizeof(*na))) == NULL) {
				rc = -1;
				break;
			}
			all = na;
		}
		all[n].epoch = e;
		all[n++].files = 0;
	}
	if (rc == 0 && n > 0)
		qsort(all, n, sizeof(*all), epoch_cmp);
	for (i = 0; rc == 0 && i < n; i++) {
		char	 name[32];

		snprintf(name, sizeof(name), "%lld", (long long)all[i].epoch);
		if (keep > 0 && i >= keep) {
			rc = walk(dirfd(d), name, 1, &all[i].files, 0);
			continue;
		}
		rc = walk(dirfd(d), name, 0, &all[i].files, 0);
		if (rc == 0 && out < max)
			a[out++] = all[i];
	}
	if (rc == 0 && keep > 0 && n > keep)
		rc = fsync(dirfd(d));
	closedir(d);
	free(all);
	return (rc == -1 ? -1 : out);
}

/*
 * Flush the batch's files, rename them into place (asking the fence
 * before each), fsync each directory once.  Only then may the batch be
 * acknowledged.  A fence that says no leaves what is not yet renamed.
 */
int
apply_batch_commit(struct apply_batch *b, int (*fence)(void *), void *arg,
    const char *attic)
{
	int	 i, rc = 0;

	if (b->n > 0 && syncfs(b->root) == -1)
		rc = -1;
	for (i = 0; rc == 0 && i < b->n; i++) {
		if (fence != NULL && !fence(arg)) {
			errno = EPERM;
			rc = -1;
			break;
		}
		if (attic != NULL && to_attic(b->root, b->d[b->f[i].dir].fd,
		    b->f[i].name, b->f[i].path, attic, 1) == -1)
			rc = -1;
		else if (renameat(b->d[b->f[i].dir].fd, b->f[i].tmp,
		    b->d[b->f[i].dir].fd, b->f[i].name) == -1)
			rc = -1;
		else {
			/* a rename between two names of one file does
			 * nothing: the temporary name must still go */
			if (b->f[i].hardlink)
				(void)unlinkat(b->d[b->f[i].dir].fd,
				    b->f[i].tmp, 0);
			b->f[i].tmp[0] = '\0';	/* in place */
		}
	}
	for (i = 0; i < b->nd; i++)
		if (fsync(b->d[i].fd) == -1)
			rc = -1;
	apply_batch_abort(b);
	return (rc);
}

/* A failed or interrupted batch: the temporary files go, nothing else. */
void
apply_batch_abort(struct apply_batch *b)
{
	int	 i;

	for (i = 0; i < b->n; i++) {
		if (b->f[i].tmp[0] != '\0')
			unlinkat(b->d[b->f[i].dir].fd, b->f[i].tmp, 0);
		free(b->f[i].path);
	}
	for (i = 0; i < b->nd; i++) {
		close(b->d[i].fd);
		free(b->d[i].path);
	}
	b->n = 0;
	b->nd = 0;
	b->bytes = 0;
}

/* A symlink is copied as a link, never followed. */
int
apply_symlink(int root, const char *path, const char *target,
    int64_t mtime_ns, const char *attic)
{
	struct timespec	 ts[2];
	char		 base[NAME_MAX + 1], tmp[32];
	int		 parent, rc;

	if (target[0] == '\0' || strlen(target) >= PATH_MAX) {
		errno = EINVAL;
		return (-1);
	}
	if ((parent = apply_open_parent(root, path, 1, base,
	    sizeof(base))) == -1)
		return (-1);
	snprintf(tmp, sizeof(tmp), ".failoverd.%08x", randombytes_random());
	rc = symlinkat(target, parent, tmp);
	mtime_ts(mtime_ns, ts);
	if (rc == 0)
		(void)utimensat(parent, tmp, ts, AT_SYMLINK_NOFOLLOW);
	if (rc == 0 && attic != NULL &&
	    (rc = to_attic(root, parent, base, path, attic, 1)) == -1)
		unlinkat(parent, tmp, 0);
	if (rc == 0 && (rc = renameat(parent, tmp, parent, base)) == -1)
		unlinkat(parent, tmp, 0);
	if (rc == 0)
		rc = fsync(parent);
	close(parent);
	return (rc);
}

/*
 * A hard link that cannot be made, as a copy: the file at sname (the
 * one looked at, st) copied to a new temporary member of the batch, with
 * its mode and mtime.  1 when done, -1 on error.
 */
static int
copy_member(struct apply_batch *b, struct apply_file *f, int sfd,
    const char *sname, const struct stat *st, const char *path)
{
	struct timespec	 ts[2];
	struct stat	 sst;
	ssize_t		 n;
	int		 in;

	if ((in = apply_open_beneath(sfd, sname, O_RDONLY | O_NONBLOCK,
	    0)) == -1)
		return (-1);
	if (fstat(in, &sst) == -1 || !S_ISREG(sst.st_mode) ||
	    sst.st_dev != st->st_dev || sst.st_ino != st->st_ino) {
		close(in);
		errno = ESTALE;
		return (-1);
	}
	if (apply_file_begin(b, path, 0600, f) == -1) {
		close(in);
		return (-1);
	}
	while ((n = copy_file_range(in, NULL, f->fd, NULL, 1 << 30, 0)) > 0)
		f->size += n;
	if (n == -1 && f->size == 0 && (errno == EXDEV || errno == EINVAL ||
	    errno == EOPNOTSUPP || errno == ENOSYS)) {
		/* across filesystems (EXDEV, the case that brought us here):
		 * by reading and writing */
		static char	 buf[1 << 16];

		for (;;) {
			if ((n = read(in, buf, sizeof(buf))) == -1 &&
			    errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (write(f->fd, buf, n) != n) {
				n = -1;
				break;
			}
			f->size += n;
		}
	}
	close(in);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = sst.st_mtim;
	if (n == -1 || (uint64_t)sst.st_size != f->size ||
	    fchmod(f->fd, sst.st_mode & 01777) == -1 ||
	    futimens(f->fd, ts) == -1 || b->n >= APPLY_MAXBATCH) {
		apply_file_abort(b, f);
		if (n != -1)
			errno = ESTALE;
		return (-1);
	}
	close(f->fd);
	f->fd = -1;
	b->f[b->n++] = *f;
	b->bytes += f->size;
	return (1);
}

/*
 * Another name of a file, as a member of the batch: a link to the file
 * at target under a temporary name, renamed into place at the commit.
 * The file is the batch's own when target is in the batch (still under
 * its temporary name), else the one in place, which must be a regular
 * file.  ENOENT or ESTALE: no such file now (the sender ships it, and
 * this link, again in a later round).  Where the link cannot be made
 * (EPERM, EXDEV, EMLINK) the name gets a copy of the file instead, and
 * 1 is returned; 0 for a link.
 */
int
apply_hardlink(struct apply_batch *b, const char *path, const char *target)
{
	struct apply_file	 f;
	struct stat		 st, lst;
	char			 tbase[NAME_MAX + 1];
	const char		*sname;
	int			 i, sfd, own = 0, tries, rc = -1, dfd;

	if (file_place(b, path, &f) == -1)
		return (-1);
	for (i = b->n; i-- > 0; )
		if (b->f[i].tmp[0] != '\0' && strcmp(b->f[i].path, target) == 0)
			break;
	if (i >= 0) {
		sfd = b->d[b->f[i].dir].fd;
		sname = b->f[i].tmp;
	} else {
		if ((sfd = apply_open_parent(b->root, target, 0, tbase,
		    sizeof(tbase))) == -1)
			return (-1);
		own = 1;
		sname = tbase;
	}
	dfd = b->d[f.dir].fd;
	if (fstatat(sfd, sname, &st, AT_SYMLINK_NOFOLLOW) == -1)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = ESTALE;
		goto out;
	}
	if (i >= 0 && st.st_ino != b->f[i].ino) {
		errno = ESTALE;		/* not the file this batch wrote */
		goto out;
	}
	for (tries = 0; tries < 10; tries++) {
		snprintf(f.tmp, sizeof(f.tmp), ".failoverd.%08x",
		    randombytes_random());
		if ((rc = linkat(sfd, sname, dfd, f.tmp, 0)) == 0 ||
		    errno != EEXIST)
			break;
	}
	if (rc == -1 && (errno == EPERM || errno == EXDEV ||
	    errno == EMLINK)) {
		/* a file this user may not link (fs.protected_hardlinks),
		 * across a mount, or with too many names: a copy */
		rc = copy_member(b, &f, sfd, sname, &st, path);
		goto out;
	}
	if (rc == -1)
		goto out;
	/* the name linked must be the file looked at */
	if (fstatat(dfd, f.tmp, &lst, AT_SYMLINK_NOFOLLOW) == -1 ||
	    lst.st_dev != st.st_dev || lst.st_ino != st.st_ino) {
		unlinkat(dfd, f.tmp, 0);
		errno = ESTALE;
		rc = -1;
		goto out;
	}
	if ((f.path = strdup(path)) == NULL) {
		unlinkat(dfd, f.tmp, 0);
		rc = -1;
		goto out;
	}
	f.ino = st.st_ino;
	f.hardlink = 1;
	b->f[b->n++] = f;
	rc = 0;
out:
	if (own)
		close(sfd);
	return (rc);
}

/* A directory, or the mode of one that is there. */
int
apply_mkdir(int root, const char *path, mode_t mode)
{
	char	 base[NAME_MAX + 1];
	int	 parent, fd, rc;

	if ((parent = apply_open_parent(root, path, 1, base,
	    sizeof(base))) == -1)
		return (-1);
	if ((rc = mkdirat(parent, base, 0700)) == -1 && errno == EEXIST)
		rc = 0;
	if (rc == 0 && (fd = apply_open_beneath(parent, base,
	    O_RDONLY | O_DIRECTORY, 0)) != -1) {
		rc = fchmod(fd, mode & 01777);
		close(fd);
	} else
		rc = -1;
	if (rc == 0)
		rc = fsync(parent);
	close(parent);
	return (rc);
}

/*
 * Delete a file, a link or an empty directory beneath root; with an
 * attic, files and links move there (a directory's content went before
 * it, so the directory itself is only removed).  Gone already is done.
 */
int
apply_remove(int root, const char *path, const char *attic)
{
	char		 base[NAME_MAX + 1];
	struct stat	 st;
	int		 parent, rc;

	if ((parent = apply_open_parent(root, path, 0, base,
	    sizeof(base))) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == -1)
		rc = errno == ENOENT ? 0 : -1;
	else if (S_ISDIR(st.st_mode))
		rc = unlinkat(parent, base, AT_REMOVEDIR);
	else if (attic != NULL)
		rc = to_attic(root, parent, base, path, attic, 0);
	else
		rc = unlinkat(parent, base, 0);
	if (rc == 0)
		rc = fsync(parent);
	close(parent);
	return (rc);
}
