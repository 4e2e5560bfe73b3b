/*
 * syncd/scan.c on a real tree: nested directories, an empty file, a
 * symlink, modes other than 0644, excludes; the manifest is path-sorted
 * with BLAKE2b-256 of each file; a rescan of an unchanged tree reads no
 * file, a changed file alone is read again.  Hard links: every name of
 * a file but the first (in path order) is a link to that first name; a
 * name outside the tree does not count.  What is skipped goes to the
 * callback, once a scan.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"
#include "tap.h"

static char	 top[64];

static void
put(const char *rel, const char *data, mode_t mode)
{
	char	 p[256];
	int	 fd;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd == -1 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		exit(2);
	fchmod(fd, mode);
	close(fd);
}

static char	 skipped_paths[256];

static void
on_skip(const char *path, mode_t mode, void *arg)
{
	(*(int *)arg)++;
	snprintf(skipped_paths + strlen(skipped_paths),
	    sizeof(skipped_paths) - strlen(skipped_paths), "%s%s(%s)",
	    skipped_paths[0] ? " " : "", path, S_ISFIFO(mode) ? "fifo" : "?");
}

static dev_t
st_dev_of(int fd)
{
	struct stat	 st;

	return (fstat(fd, &st) == 0 ? st.st_dev : 0);
}

static struct scan_entry *
find(struct scan_manifest *m, const char *path)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->e[i].path, path) == 0)
			return (&m->e[i]);
	return (NULL);
}

int
main(void)
{
	struct scan_manifest	 m;
	struct scan_stats	 s;
	struct scan_cache	*c;
	struct scan_entry	*e;
	char			*ex[] = { "*.tmp", "cache/*", NULL };
	char			 p[256];
	uint8_t			 h[SCAN_HASHLEN];
	size_t			 i;
	int			 root, sorted, nskip = 0;
	char			 q[256];

	if (sodium_init() == -1)
		return (2);
	strlcpy(top, "/tmp/fo-scan.XXXXXX", sizeof(top));
	if (mkdtemp(top) == NULL)
		return (2);
	mkdir(strcat(strcpy(p, top), "/a"), 0755);
	mkdir(strcat(strcpy(p, top), "/a/b"), 0755);
	mkdir(strcat(strcpy(p, top), "/cache"), 0755);
	put("a/b/deep.txt", "deep\n", 0600);
	put("a/run.sh", "#!/bin/sh\n", 0755);
	put("empty", "", 0644);
	put("z.txt", "last\n", 0640);
	put("x.tmp", "excluded\n", 0644);
	put("cache/blob", "excluded too\n", 0644);
	snprintf(p, sizeof(p), "%s/link", top);
	symlink("a/b/deep.txt", p);
	snprintf(p, sizeof(p), "%s/fifo", top);
	mkfifo(p, 0644);
	/* hard links: m1 with names a/m1 (first), b-m1 and m1; o outside */
	put("a/m1", "linked\n", 0644);
	snprintf(p, sizeof(p), "%s/a/m1", top);
	snprintf(q, sizeof(q), "%s/b-m1", top);
	link(p, q);
	snprintf(q, sizeof(q), "%s/m1", top);
	link(p, q);
	put("o", "outside\n", 0644);
	snprintf(p, sizeof(p), "%s/o", top);
	snprintf(q, sizeof(q), "%s.o-outside", top);
	link(p, q);
	root = open(top, O_RDONLY | O_DIRECTORY);
	c = scan_cache_new();
	scan_cache_on_skip(c, on_skip, &nskip);

	memset(&m, 0, sizeof(m));
	ok(scan_dir(root, ex, c, &m, &s) == 0, "scan");
	for (sorted = 1, i = 1; i < m.n; i++)
		if (strcmp(m.e[i - 1].path, m.e[i].path) >= 0)
			sorted = 0;
	ok(sorted, "the manifest is sorted by path (%zu entries)", m.n);
	ok(find(&m, "x.tmp") == NULL && find(&m, "cache/blob") == NULL,
	    "excluded: *.tmp, and cache/* (FNM_PATHNAME)");
	ok(find(&m, "cache") != NULL, "the directory cache itself is listed");
	ok(find(&m, "fifo") == NULL && s.skipped == 1, "a fifo is skipped");
	ok(nskip == 1 && strcmp(skipped_paths, "fifo(fifo)") == 0,
	    "and told to the callback, once: %s", skipped_paths);
	ok((e = find(&m, "a/m1")) != NULL && e->type == SCAN_FILE &&
	    e->size == 7, "a file's first name is the file");
	ok((e = find(&m, "b-m1")) != NULL && e->type == SCAN_HLINK &&
	    strcmp(e->link, "a/m1") == 0 && e->size == 7,
	    "its other names are hard links to the first");
	ok((e = find(&m, "m1")) != NULL && e->type == SCAN_HLINK &&
	    strcmp(e->link, "a/m1") == 0, "all of them");
	ok((e = find(&m, "o")) != NULL && e->type == SCAN_FILE,
	    "a file whose other name is outside the tree is a file");
	ok(s.hardlinks == 2, "2 hard links counted");
	e = find(&m, "a/b/deep.txt");
	crypto_generichash(h, sizeof(h), (const uint8_t *)"deep\n", 5, NULL, 0);
	ok(e != NULL && e->type == SCAN_FILE && e->size == 5 &&
	    memcmp(e->hash, h, sizeof(h)) == 0, "a nested file with its "
	    "BLAKE2b-256");
	ok(e != NULL && e->mode == 0600, "its mode 0600");
	ok((e = find(&m, "a/run.sh")) != NULL && e->mode == 0755,
	    "an executable: 0755");
	crypto_generichash(h, sizeof(h), NULL, 0, NULL, 0);
	ok((e = find(&m, "empty")) != NULL && e->size == 0 &&
	    memcmp(e->hash, h, sizeof(h)) == 0, "an empty file");
	ok((e = find(&m, "link")) != NULL && e->type == SCAN_LINK &&
	    strcmp(e->link, "a/b/deep.txt") == 0, "a symlink, as a link");
	ok((e = find(&m, "a/b")) != NULL && e->type == SCAN_DIR,
	    "directories are listed");
	ok(s.files == 6 && s.hashed_files == 6, "6 files, all read the first "
	    "time (a hard link is not read again: %llu)",
	    (unsigned long long)s.hashed_files);
	scan_manifest_free(&m);

	ok(scan_dir(root, ex, c, &m, &s) == 0 && s.hashed_files == 0 &&
	    s.hashed_bytes == 0, "a rescan of the unchanged tree reads no file");
	ok(nskip == 2, "the fifo is told again in the next scan");
	scan_manifest_free(&m);

	put("z.txt", "changed\n", 0640);
	ok(scan_dir(root, ex, c, &m, &s) == 0 && s.hashed_files == 1,
	    "after one file changed, only it is read again");
	crypto_generichash(h, sizeof(h), (const uint8_t *)"changed\n", 8, NULL,
	    0);
	ok((e = find(&m, "z.txt")) != NULL && memcmp(e->hash, h, 32) == 0,
	    "with its new hash");
	scan_manifest_free(&m);

	/* a sender's cache: the last manifest, by path */
	{
		struct scan_manifest	 prev;
		char			 from[300], to[300];

		scan_cache_by_path(c, NULL);
		memset(&prev, 0, sizeof(prev));
		ok(scan_dir(root, ex, c, &prev, &s) == 0 &&
		    s.hashed_files == 0, "by path, with no last manifest: "
		    "the hashes of the receiver's tree, no file read (%llu)",
		    (unsigned long long)s.hashed_files);
		scan_cache_forget(c);
		scan_cache_by_path(c, &prev);
		ok(scan_dir(root, ex, c, &m, &s) == 0 && s.hashed_files == 0,
		    "with the last one: an unchanged tree reads no file");
		ok((e = find(&m, "z.txt")) != NULL && e->hashed &&
		    memcmp(e->hash, h, 32) == 0,
		    "and has each hash from it");
		scan_manifest_free(&prev);
		prev = m;
		memset(&m, 0, sizeof(m));
		put("a/run.sh", "#!/bin/sh\nexit 0\n", 0755);
		snprintf(from, sizeof(from), "%s/a/b/deep.txt", top);
		snprintf(to, sizeof(to), "%s/a/b/moved.txt", top);
		rename(from, to);
		scan_cache_by_path(c, &prev);
		ok(scan_dir(root, ex, c, &m, &s) == 0 && s.hashed_files == 2,
		    "a changed file and a renamed one are read again (%llu)",
		    (unsigned long long)s.hashed_files);
		crypto_generichash(h, sizeof(h), (const uint8_t *)"deep\n", 5,
		    NULL, 0);
		ok((e = find(&m, "a/b/moved.txt")) != NULL && e->hashed &&
		    memcmp(e->hash, h, 32) == 0, "the renamed one with its hash");
		/* back to a receiver's cache, seeded from the last one */
		scan_cache_tree(c, st_dev_of(root), &m);
		scan_manifest_free(&prev);
		scan_manifest_free(&m);
		ok(scan_dir(root, ex, c, &prev, &s) == 0 && s.hashed_files == 0,
		    "a receiver's cache seeded from the last manifest reads "
		    "no file (%llu)",
		    (unsigned long long)s.hashed_files);
		scan_manifest_free(&prev);
		rename(to, from);
	}

	scan_cache_free(c);
	close(root);
	snprintf(p, sizeof(p), "rm -rf '%s' '%s.o-outside'", top, top);
	if (system(p) != 0)
		printf("# could not remove %s\n", top);
	return (tap_done());
}
