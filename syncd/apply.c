/*
 * syncd: applying files beneath a directory fd.  Every path a peer sends
 * is checked (relative, no "." or "..", no empty component, no NUL, not
 * over-long) and resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): nothing a peer names can
 * lead outside the directory, or through a symlink.
 *
 * A file is written to a temporary file in its own directory, given its
 * mode and mtime; a batch is flushed (fdatasync each), renamed into place
 * with renameat, and each touched directory is fsynced once.  Until the
 * rename a reader sees the old file; after it, the new one: never part.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"

static int
openat2_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how	 how;

	memset(&how, 0, sizeof(how));
	how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	return (syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
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
		return (openat2_beneath(root, ".", O_RDONLY | O_DIRECTORY, 0));
	memcpy(dir, path, slash - path);
	dir[slash - path] = '\0';
	if ((fd = openat2_beneath(root, dir, O_RDONLY | O_DIRECTORY, 0)) != -1
	    || errno != ENOENT || !create)
		return (fd);
	/* create each missing level, every step resolved beneath root */
	for (p = dir; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if ((fd = openat2_beneath(root, dir, O_RDONLY | O_DIRECTORY,
		    0)) == -1) {
			char	 comp[NAME_MAX + 1];
			char	*last = strrchr(dir, '/');
			int	 up;

			if (errno != ENOENT)
				return (-1);
			if (last != NULL) {
				*last = '\0';
				up = openat2_beneath(root, dir,
				    O_RDONLY | O_DIRECTORY, 0);
				strlcpy(comp, last + 1, sizeof(comp));
				*last = '/';
			} else {
				up = openat2_beneath(root, ".",
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
	return (openat2_beneath(root, dir, O_RDONLY | O_DIRECTORY, 0));
}

int
apply_file_begin(int root, const char *path, struct apply_file *f)
{
	uint32_t	 r;
	int		 tries;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if ((f->parent = apply_open_parent(root, path, 1, f->name,
	    sizeof(f->name))) == -1)
		return (-1);
	for (tries = 0; tries < 10; tries++) {
		r = randombytes_random();
		snprintf(f->tmp, sizeof(f->tmp), ".failoverd.%08x", r);
		f->fd = openat2_beneath(f->parent, f->tmp,
		    O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (f->fd != -1 || errno != EEXIST)
			break;
	}
	if (f->fd == -1) {
		close(f->parent);
		f->parent = -1;
		return (-1);
	}
	return (0);
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
	return (0);
}

/* Mode (masked with 01777) and mtime; the file joins the batch. */
int
apply_file_end(struct apply_batch *b, struct apply_file *f, mode_t mode,
    int64_t mtime_ns)
{
	struct timespec	 ts[2];

	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = mtime_ns / 1000000000LL;
	ts[1].tv_nsec = mtime_ns % 1000000000LL;
	if (ts[1].tv_nsec < 0) {
		ts[1].tv_sec--;
		ts[1].tv_nsec += 1000000000LL;
	}
	if (ftruncate(f->fd, f->size) == -1 ||
	    fchmod(f->fd, mode & 01777) == -1 || futimens(f->fd, ts) == -1 ||
	    b->n >= APPLY_MAXBATCH) {
		unlinkat(f->parent, f->tmp, 0);
		close(f->fd);
		close(f->parent);
		return (-1);
	}
	b->f[b->n++] = *f;
	b->bytes += f->size;
	return (0);
}

/*
 * Flush every file, rename them into place, fsync each directory once.
 * Only then may the batch be acknowledged.
 */
int
apply_batch_commit(struct apply_batch *b)
{
	int	 i, j, rc = 0, seen;

	for (i = 0; i < b->n; i++)
		if (fdatasync(b->f[i].fd) == -1)
			rc = -1;
	for (i = 0; rc == 0 && i < b->n; i++)
		if (renameat(b->f[i].parent, b->f[i].tmp, b->f[i].parent,
		    b->f[i].name) == -1)
			rc = -1;
	for (i = 0; i < b->n; i++) {
		struct stat	 a, c;

		/* each directory once: compare with those fsynced before */
		seen = 0;
		if (fstat(b->f[i].parent, &a) == 0)
			for (j = 0; j < i && !seen; j++)
				seen = fstat(b->f[j].parent, &c) == 0 &&
				    a.st_dev == c.st_dev && a.st_ino == c.st_ino;
		if (rc == 0 && !seen && fsync(b->f[i].parent) == -1)
			rc = -1;
	}
	if (rc == -1) {
		apply_batch_abort(b);
		return (-1);
	}
	for (i = 0; i < b->n; i++) {
		close(b->f[i].fd);
		close(b->f[i].parent);
	}
	b->n = 0;
	b->bytes = 0;
	return (0);
}

/* A failed or interrupted batch: the temporary files go, nothing else. */
void
apply_batch_abort(struct apply_batch *b)
{
	int	 i;

	for (i = 0; i < b->n; i++) {
		unlinkat(b->f[i].parent, b->f[i].tmp, 0);
		close(b->f[i].fd);
		close(b->f[i].parent);
	}
	b->n = 0;
	b->bytes = 0;
}

/* A symlink is copied as a link, never followed. */
int
apply_symlink(int root, const char *path, const char *target)
{
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
	if (rc == 0 && (rc = renameat(parent, tmp, parent, base)) == -1)
		unlinkat(parent, tmp, 0);
	if (rc == 0)
		rc = fsync(parent);
	close(parent);
	return (rc);
}

/* Delete a file, a link or an empty directory beneath root. */
int
apply_remove(int root, const char *path)
{
	char	 base[NAME_MAX + 1];
	int	 parent, rc;

	if ((parent = apply_open_parent(root, path, 0, base,
	    sizeof(base))) == -1)
		return (-1);
	if ((rc = unlinkat(parent, base, 0)) == -1 && errno == EISDIR)
		rc = unlinkat(parent, base, AT_REMOVEDIR);
	if (rc == 0)
		rc = fsync(parent);
	close(parent);
	return (rc);
}
