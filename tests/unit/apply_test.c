/*
 * syncd/apply.c on a real file system: path checks, the atomic replace
 * of a file, an aborted batch, and attempts to escape the directory
 * through "..", absolute paths and symlinks; hard links made from a file
 * of the same batch and from one in place, over a copy and over a name
 * of the same file, and refused to what is not a regular file.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "tap.h"

static char	 top[64];

static char *
slurp(int root, const char *path)
{
	static char	 buf[256];
	ssize_t		 n;
	int		 fd;

	if ((fd = openat(root, path, O_RDONLY | O_NOFOLLOW)) == -1)
		return (NULL);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return (buf);
}

static int
temps_left(const char *dir)
{
	char	 cmd[256];
	FILE	*p;
	int	 n = 0;

	snprintf(cmd, sizeof(cmd), "find '%s' -name '.failoverd.*' | wc -l",
	    dir);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return (n);
}

static void
test_paths(void)
{
	static const struct { const char *p; size_t len; int ok; } t[] = {
		{ "a", 1, 1 }, { "a/b/c.txt", 9, 1 }, { "..a/b..", 7, 1 },
		{ ".hidden", 7, 1 }, { "", 0, 0 }, { "/etc/passwd", 11, 0 },
		{ "..", 2, 0 }, { "a/../b", 6, 0 }, { "./a", 3, 0 },
		{ "a/.", 3, 0 }, { "a//b", 4, 0 }, { "a/", 2, 0 },
		{ "a\0b", 3, 0 },
	};
	char	 longname[300], longpath[PATH_MAX + 10];
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(apply_path_valid(t[i].p, t[i].len) == t[i].ok,
		    "path \"%.*s\" %s", (int)t[i].len, t[i].p,
		    t[i].ok ? "accepted" : "refused");
	memset(longname, 'x', 256);
	longname[256] = '\0';
	ok(!apply_path_valid(longname, 256), "a component of 256 bytes is "
	    "refused");
	ok(apply_path_valid(longname, 255), "one of 255 is accepted");
	for (i = 0; i < sizeof(longpath) - 1; i++)
		longpath[i] = i % 2 ? '/' : 'a';
	longpath[sizeof(longpath) - 1] = '\0';
	ok(!apply_path_valid(longpath, strlen(longpath)), "a path of "
	    "PATH_MAX bytes or more is refused");
}

static int
refuse(void *arg)
{
	(void)arg;
	return (0);
}

static void
test_files(int root)
{
	struct apply_batch	*b;
	struct apply_file	 f;
	struct stat		 st;
	char			*s;

	if ((b = apply_batch_new(root)) == NULL)
		exit(2);
	ok(apply_file_begin(b, "dir/sub/f.txt", 04755, &f) == 0,
	    "a file in directories that do not exist yet");
	apply_file_write(&f, "new data\n", 9, 0);
	ok(apply_file_end(b, &f, 04755, 1234567890123456789LL) == 0,
	    "written, mode and mtime set");
	ok(faccessat(root, "dir/sub/f.txt", F_OK, 0) == -1,
	    "before the commit the file is not there");
	ok(temps_left(top) == 1, "only a temporary file in its directory");
	ok(apply_batch_commit(b, NULL, NULL, NULL) == 0, "commit");
	s = slurp(root, "dir/sub/f.txt");
	ok(s != NULL && strcmp(s, "new data\n") == 0, "after it, the new "
	    "content");
	ok(fstatat(root, "dir/sub/f.txt", &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0755, "mode 04755 masked with 01777: 0755");
	ok(st.st_mtim.tv_sec == 1234567890 &&
	    st.st_mtim.tv_nsec == 123456789, "mtime to the nanosecond");
	ok(temps_left(top) == 0, "no temporary file left");

	/* replacing: the old content until the commit */
	apply_file_begin(b, "dir/sub/f.txt", 0600, &f);
	apply_file_write(&f, "newer\n", 6, 0);
	apply_file_end(b, &f, 0644, 0);
	s = slurp(root, "dir/sub/f.txt");
	ok(s != NULL && strcmp(s, "new data\n") == 0, "a replacement: the old "
	    "file until the commit");
	apply_batch_commit(b, NULL, NULL, NULL);
	s = slurp(root, "dir/sub/f.txt");
	ok(s != NULL && strcmp(s, "newer\n") == 0, "the new one after");

	/* an aborted batch leaves the old file and no temporary one */
	apply_file_begin(b, "dir/sub/f.txt", 0600, &f);
	apply_file_write(&f, "partial", 7, 0);
	apply_file_end(b, &f, 0644, 0);
	apply_batch_abort(b);
	s = slurp(root, "dir/sub/f.txt");
	ok(s != NULL && strcmp(s, "newer\n") == 0 && temps_left(top) == 0,
	    "an aborted batch: the old file, no temporary file");

	ok(apply_remove(root, "dir/sub/f.txt", NULL) == 0 &&
	    faccessat(root, "dir/sub/f.txt", F_OK, AT_SYMLINK_NOFOLLOW) == -1,
	    "remove a file");
	ok(apply_remove(root, "dir/sub", NULL) == 0,
	    "remove an empty directory");
	ok(apply_remove(root, "dir/sub", NULL) == 0,
	    "removing what is gone already is done");
	ok(apply_mkdir(root, "made/here", 0750) == 0 &&
	    fstatat(root, "made/here", &st, 0) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0750, "a directory with its mode");

	/* the mode at creation where it can be, else set at the end; a
	 * resumed file longer than what it holds is cut to size */
	apply_file_begin(b, "modes/rw", 0640, &f);
	ok(fstat(f.fd, &st) == 0 && (st.st_mode & 07777) == 0640,
	    "0640: the temporary file is made with it");
	apply_file_end(b, &f, 0640, 0);
	apply_file_begin(b, "modes/ro", 0400, &f);
	ok(fstat(f.fd, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "0400: made 0600, so a kept part can be written again");
	apply_file_end(b, &f, 0400, 0);
	apply_file_begin(b, "modes/sticky", 01644, &f);
	apply_file_end(b, &f, 01644, 0);
	apply_batch_commit(b, NULL, NULL, NULL);
	ok(fstatat(root, "modes/rw", &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0640 &&
	    fstatat(root, "modes/ro", &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0400 &&
	    fstatat(root, "modes/sticky", &st, 0) == 0 &&
	    (st.st_mode & 07777) == 01644, "each with its mode in place");
	/* a umask that strips bits: made 0600, set at the end */
	umask(027);
	apply_init();
	apply_file_begin(b, "modes/umask", 0644, &f);
	ok(fstat(f.fd, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "umask 027: 0644 is made 0600");
	apply_file_end(b, &f, 0644, 0);
	apply_batch_commit(b, NULL, NULL, NULL);
	ok(fstatat(root, "modes/umask", &st, 0) == 0 &&
	    (st.st_mode & 07777) == 0644, "and is 0644 in place");
	umask(022);
	apply_init();
	{
		struct apply_file	 k;
		char			 tmp[32];
		uint64_t		 ino;

		apply_file_begin(b, "modes/resumed", 0644, &k);
		apply_file_write(&k, "0123456789", 10, 0);
		strlcpy(tmp, k.tmp, sizeof(tmp));
		ino = k.ino;
		apply_file_keep(&k);
		ok(apply_file_resume(b, "modes/resumed", tmp, 4, ino,
		    &k) == 0, "a kept file resumed at 4 bytes");
		apply_file_write(&k, "ab", 2, 4);
		ok(apply_file_end(b, &k, 0644, 0) == 0 &&
		    apply_batch_commit(b, NULL, NULL, NULL) == 0,
		    "ended and committed");
		s = slurp(root, "modes/resumed");
		ok(s != NULL && strcmp(s, "0123ab") == 0,
		    "cut to what it holds: \"0123ab\", not the old tail");
	}

	/* a fence that says no: nothing renamed, no temporary file left */
	apply_file_begin(b, "fenced", 0600, &f);
	apply_file_write(&f, "stale\n", 6, 0);
	apply_file_end(b, &f, 0644, 0);
	ok(apply_batch_commit(b, refuse, NULL, NULL) == -1 &&
	    faccessat(root, "fenced", F_OK, 0) == -1 && temps_left(top) == 0,
	    "a commit the fence refuses renames nothing");

	/* the attic keeps what a file replaces or a deletion removes */
	apply_file_begin(b, "dir/f.txt", 0600, &f);
	apply_file_write(&f, "first\n", 6, 0);
	apply_file_end(b, &f, 0644, 0);
	apply_batch_commit(b, NULL, NULL, NULL);
	apply_file_begin(b, "dir/f.txt", 0600, &f);
	apply_file_write(&f, "second\n", 7, 0);
	apply_file_end(b, &f, 0644, 0);
	ok(apply_batch_commit(b, NULL, NULL, ".failoverd-attic/7") == 0,
	    "a commit with an attic");
	s = slurp(root, ".failoverd-attic/7/dir/f.txt");
	ok(s != NULL && strcmp(s, "first\n") == 0, "the replaced file is in "
	    "the attic of the epoch");
	s = slurp(root, "dir/f.txt");
	ok(s != NULL && strcmp(s, "second\n") == 0, "the new one in place");
	ok(apply_remove(root, "dir/f.txt", ".failoverd-attic/8") == 0,
	    "a deletion with an attic");
	s = slurp(root, ".failoverd-attic/8/dir/f.txt");
	ok(s != NULL && strcmp(s, "second\n") == 0 &&
	    faccessat(root, "dir/f.txt", F_OK, 0) == -1,
	    "moves the file there");
	apply_batch_free(b);
}

static void
test_escapes(int root, const char *outside)
{
	struct apply_batch	*eb = apply_batch_new(root);
	struct apply_file	 f;
	char			 link[512], victim[512], buf[64];
	ssize_t			 n;
	int			 fd;

	/* a symlink inside the tree that points out of it */
	snprintf(link, sizeof(link), "%s/root/evil", top);
	symlink(outside, link);
	errno = 0;
	ok(apply_file_begin(eb, "evil/x", 0600, &f) == -1,
	    "writing through a symlinked directory is refused (%s)",
	    strerror(errno));
	snprintf(victim, sizeof(victim), "%s/x", outside);
	ok(access(victim, F_OK) == -1, "and nothing appeared outside");
	ok(apply_remove(root, "evil/x", NULL) == -1, "removing through it too");
	ok(apply_file_begin(eb, "../x", 0600, &f) == -1 && errno == EINVAL,
	    "\"..\" is refused");
	ok(apply_file_begin(eb, "/tmp/x", 0600, &f) == -1 && errno == EINVAL,
	    "an absolute path is refused");

	/* a symlink as the last component is replaced, not followed */
	snprintf(victim, sizeof(victim), "%s/victim", outside);
	if ((fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1) {
		n = write(fd, "untouched\n", 10);
		close(fd);
	}
	snprintf(link, sizeof(link), "%s/root/innocent", top);
	symlink(victim, link);
	{
		struct apply_batch	*b = apply_batch_new(root);

		apply_file_begin(b, "innocent", 0600, &f);
		apply_file_write(&f, "replaced\n", 9, 0);
		apply_file_end(b, &f, 0644, 0);
		apply_batch_commit(b, NULL, NULL, NULL);
		apply_batch_free(b);
	}
	fd = open(victim, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	ok(strcmp(buf, "untouched\n") == 0, "a file shipped over a symlink "
	    "replaces the link; its target is untouched");

	ok(apply_symlink(root, "links/up", "../../etc/passwd", 0,
	    NULL) == 0,
	    "a symlink is stored as a link");
	n = readlinkat(root, "links/up", buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	ok(strcmp(buf, "../../etc/passwd") == 0, "with its target as sent, "
	    "never followed");
	apply_batch_free(eb);
}

static ino_t
ino(int root, const char *path)
{
	struct stat	 st;

	return (fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) == 0 ?
	    st.st_ino : 0);
}

static void
test_hardlinks(int root)
{
	struct apply_batch	*b;
	struct apply_file	 f;
	struct stat		 st;
	char			*s;

	if ((b = apply_batch_new(root)) == NULL)
		exit(2);
	/* the file it names is in the same batch, not yet in place */
	apply_file_begin(b, "hl/first", 0600, &f);
	apply_file_write(&f, "one file\n", 9, 0);
	apply_file_end(b, &f, 0644, 0);
	ok(apply_hardlink(b, "hl/sub/second", "hl/first") == 0,
	    "a hard link to a file of the same batch");
	ok(faccessat(root, "hl/sub/second", F_OK, 0) == -1,
	    "not in place before the commit");
	ok(apply_batch_commit(b, NULL, NULL, NULL) == 0 &&
	    ino(root, "hl/first") != 0 &&
	    ino(root, "hl/first") == ino(root, "hl/sub/second") &&
	    fstatat(root, "hl/first", &st, 0) == 0 && st.st_nlink == 2,
	    "after it, two names of one file");
	ok(temps_left(top) == 0, "no temporary name left");

	/* to a file in place, over a copy */
	apply_file_begin(b, "hl/third", 0600, &f);
	apply_file_write(&f, "a copy\n", 7, 0);
	apply_file_end(b, &f, 0644, 0);
	apply_batch_commit(b, NULL, NULL, NULL);
	ok(apply_hardlink(b, "hl/third", "hl/first") == 0 &&
	    apply_batch_commit(b, NULL, NULL, NULL) == 0 &&
	    ino(root, "hl/third") == ino(root, "hl/first"),
	    "a link to a file in place replaces a copy");
	s = slurp(root, "hl/third");
	ok(s != NULL && strcmp(s, "one file\n") == 0, "with the file's content");

	/* over a name of the same file: rename does nothing, the
	 * temporary name must go all the same */
	ok(apply_hardlink(b, "hl/third", "hl/first") == 0 &&
	    apply_batch_commit(b, NULL, NULL, NULL) == 0 &&
	    temps_left(top) == 0 && fstatat(root, "hl/first", &st, 0) == 0 &&
	    st.st_nlink == 3, "again over a name of the same file: no "
	    "temporary name left, still 3 names");

	/* the attic keeps the copy a link replaces */
	apply_file_begin(b, "hl/fourth", 0600, &f);
	apply_file_write(&f, "kept\n", 5, 0);
	apply_file_end(b, &f, 0644, 0);
	apply_batch_commit(b, NULL, NULL, NULL);
	ok(apply_hardlink(b, "hl/fourth", "hl/first") == 0 &&
	    apply_batch_commit(b, NULL, NULL, ".failoverd-attic/9") == 0, "a "
	    "link over a copy, with an attic");
	s = slurp(root, ".failoverd-attic/9/hl/fourth");
	ok(s != NULL && strcmp(s, "kept\n") == 0, "keeps the copy there");

	/* what it names must be a regular file, and be there */
	errno = 0;
	ok(apply_hardlink(b, "hl/x", "hl/none") == -1 && errno == ENOENT,
	    "a link to nothing: ENOENT (the sender ships both again)");
	symlinkat("first", root, "hl/sym");
	errno = 0;
	ok(apply_hardlink(b, "hl/y", "hl/sym") == -1 && errno == ESTALE,
	    "a link to a symlink is refused (ESTALE)");
	errno = 0;
	ok(apply_hardlink(b, "hl/z", "hl/sub") == -1 && errno == ESTALE,
	    "a link to a directory is refused");
	symlinkat("..", root, "hl/up");
	ok(apply_hardlink(b, "hl/w", "hl/up/hl/first") == -1,
	    "a link through a symlink is refused");
	ok(b->n == 0 && temps_left(top) == 0, "none joined the batch");
	apply_batch_free(b);
}

int
main(void)
{
	char	 path[256], outside[256];
	int	 root;

	if (sodium_init() == -1)
		return (2);
	strlcpy(top, "/tmp/fo-apply.XXXXXX", sizeof(top));
	if (mkdtemp(top) == NULL)
		return (2);
	snprintf(path, sizeof(path), "%s/root", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	mkdir(path, 0755);
	mkdir(outside, 0755);
	root = open(path, O_RDONLY | O_DIRECTORY);

	test_paths();
	umask(022);
	apply_init();
	test_files(root);
	test_hardlinks(root);
	test_escapes(root, outside);

	close(root);
	snprintf(path, sizeof(path), "rm -rf '%s'", top);
	if (system(path) != 0)
		printf("# could not remove %s\n", top);
	return (tap_done());
}
