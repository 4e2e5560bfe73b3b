/*
 * syncd/plan.c: the difference of two manifests, in order, with the
 * guards of an empty source and max-delete; and a tree whose every
 * directory became a file is planned in time linear in its size (the
 * plan used to scan the whole manifest for each change of type).  A hard
 * link is shipped when new, retargeted, or when the file it names is.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"
#include "tap.h"

static void
add(struct scan_manifest *m, const char *path, int type, const char *data,
    uint32_t mode)
{
	struct scan_entry	*e;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->e = reallocarray(m->e, m->cap, sizeof(*m->e));
	}
	e = &m->e[m->n++];
	memset(e, 0, sizeof(*e));
	e->path = scan_strdup(m, path);
	e->type = type;
	e->mode = mode;
	if (type == SCAN_FILE) {
		e->size = strlen(data);
		memcpy(e->hash, data, e->size < 32 ? e->size : 32);
		e->hashed = 1;
	} else if (type == SCAN_LINK || type == SCAN_HLINK)
		e->link = scan_strdup(m, data);
}

static char *
show(struct plan *p)
{
	static char	 s[1024];
	size_t		 i;

	s[0] = '\0';
	for (i = 0; i < p->n; i++) {
		const char *k = p->item[i].kind == PLAN_FILE ? "send" :
		    p->item[i].kind == PLAN_LINK ? "link" :
		    p->item[i].kind == PLAN_HLINK ? "hlink" :
		    p->item[i].kind == PLAN_MKDIR ? "mkdir" : "delete";
		snprintf(s + strlen(s), sizeof(s) - strlen(s), "%s%s %s",
		    i ? ", " : "", k, p->item[i].e->path);
	}
	return (s);
}

int
main(void)
{
	struct scan_manifest	 src, dst, none;
	struct plan		 p;
	char			 err[256];

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	memset(&none, 0, sizeof(none));
	add(&src, "a", SCAN_DIR, NULL, 0755);
	add(&src, "a/new.txt", SCAN_FILE, "new", 0644);
	add(&src, "a/same.txt", SCAN_FILE, "same", 0644);
	add(&src, "b.txt", SCAN_FILE, "changed", 0644);
	add(&src, "c", SCAN_LINK, "a/same.txt", 0777);
	add(&src, "d", SCAN_FILE, "now a file", 0600);
	add(&src, "d-x", SCAN_FILE, "sibling", 0644);
	add(&src, "e.txt", SCAN_FILE, "mode", 0600);

	add(&dst, "a", SCAN_DIR, NULL, 0755);
	add(&dst, "a/gone.txt", SCAN_FILE, "gone", 0644);
	add(&dst, "a/same.txt", SCAN_FILE, "same", 0644);
	add(&dst, "b.txt", SCAN_FILE, "old", 0644);
	add(&dst, "c", SCAN_LINK, "b.txt", 0777);
	add(&dst, "d", SCAN_DIR, NULL, 0755);
	add(&dst, "d-x", SCAN_FILE, "sibling", 0644);
	add(&dst, "d/x", SCAN_FILE, "x", 0644);
	add(&dst, "e.txt", SCAN_FILE, "mode", 0644);
	add(&dst, "z.txt", SCAN_FILE, "z", 0644);

	ok(plan_round(&src, &dst, NULL, 100, &p, err, sizeof(err)) == 0, "plan");

	ok(strcmp(show(&p), "send a/new.txt, send b.txt, link c, delete d/x, "
	    "delete d, send d, send e.txt, delete z.txt, delete a/gone.txt")
	    == 0, "new, changed, a link retargeted, a directory become a "
	    "file (removed first, with its contents, not its sibling d-x), a "
	    "mode change; other "
	    "deletions last, deepest first: %s", show(&p));
	ok(p.nsend == 5 && p.ndelete == 4, "5 to send, 4 to delete");
	ok(strstr(show(&p), "d-x") == NULL, "the sibling d-x is untouched");
	ok(p.bytes == 3 + 7 + 10 + 4, "bytes to send: the changed files only");
	plan_free(&p);

	ok(plan_round(&src, &src, NULL, 10, &p, err, sizeof(err)) == 0 && p.n == 0,
	    "the same tree: nothing to do");
	plan_free(&p);
	ok(plan_round(&src, &none, NULL, 10, &p, err, sizeof(err)) == 0 &&
	    p.nsend == 8, "an empty receiver gets everything");
	plan_free(&p);
	ok(plan_round(&none, &dst, NULL, 100, &p, err, sizeof(err)) == -1 &&
	    strstr(err, "empty") != NULL, "an empty source is refused");
	ok(plan_round(&none, &none, NULL, 10, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "two empty directories are in sync: nothing to protect");
	plan_free(&p);
	ok(plan_round(&src, &dst, NULL, 10, &p, err, sizeof(err)) == -1 &&
	    strstr(err, "would delete 4 of 10") != NULL,
	    "4 deletions of 10 entries is past max-delete 10%%: refused (%s)",
	    err);
	ok(plan_round(&src, &dst, NULL, 45, &p, err, sizeof(err)) == 0,
	    "and allowed at 45%%");
	plan_free(&p);
	scan_manifest_free(&src);
	scan_manifest_free(&dst);

	/* hard links */
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	add(&src, "f", SCAN_FILE, "content", 0644);
	add(&src, "g", SCAN_HLINK, "f", 0644);
	add(&src, "h", SCAN_HLINK, "f", 0644);
	add(&src, "k", SCAN_FILE, "kept", 0644);
	add(&src, "l", SCAN_HLINK, "k", 0644);
	ok(plan_round(&src, &none, NULL, 100, &p, err, sizeof(err)) == 0 &&
	    strcmp(show(&p), "send f, hlink g, hlink h, send k, hlink l") == 0,
	    "a new file's names follow it: %s", show(&p));
	plan_free(&p);
	ok(plan_round(&src, &src, NULL, 100, &p, err, sizeof(err)) == 0 && p.n == 0,
	    "unchanged: nothing");
	plan_free(&p);
	{
		/* the receiver's tree is the snapshot itself, but for the
		 * entries that changed while they were sent: a file ships
		 * again with its names, a hard link alone by itself */
		uint8_t	 file[5] = { 0, 0, 0, 1, 0 };
		uint8_t	 link[5] = { 0, 1, 0, 0, 0 };

		ok(plan_round(&src, &src, file, 100, &p, err,
		    sizeof(err)) == 0 &&
		    strcmp(show(&p), "send k, hlink l") == 0,
		    "a stale file of a shared snapshot ships again: %s",
		    show(&p));
		plan_free(&p);
		ok(plan_round(&src, &src, link, 100, &p, err,
		    sizeof(err)) == 0 &&
		    strcmp(show(&p), "hlink g") == 0,
		    "a stale hard link alone: %s", show(&p));
		plan_free(&p);
	}
	add(&dst, "f", SCAN_FILE, "old content", 0644);
	add(&dst, "g", SCAN_HLINK, "f", 0644);
	add(&dst, "h", SCAN_FILE, "a copy", 0644);
	add(&dst, "k", SCAN_FILE, "kept", 0644);
	add(&dst, "l", SCAN_HLINK, "f", 0644);
	ok(plan_round(&src, &dst, NULL, 100, &p, err, sizeof(err)) == 0 &&
	    strcmp(show(&p), "send f, hlink g, hlink h, hlink l") == 0,
	    "a changed file ships its names again (the copy is a new file), "
	    "a copy becomes a link in place, a link retargeted: %s",
	    show(&p));
	plan_free(&p);
	ok(plan_round(&src, &dst, NULL, 10, &p, err, sizeof(err)) == 0 &&
	    p.ndelete == 0, "a copy become a link is no deletion: max-delete "
	    "10%% of 5 entries lets it through");
	plan_free(&p);
	scan_manifest_free(&dst);
	memset(&dst, 0, sizeof(dst));
	add(&dst, "f", SCAN_LINK, "k", 0777);
	add(&dst, "g", SCAN_HLINK, "f", 0644);
	add(&dst, "h", SCAN_HLINK, "f", 0644);
	add(&dst, "k", SCAN_FILE, "kept", 0644);
	add(&dst, "l", SCAN_HLINK, "k", 0644);
	ok(plan_round(&src, &dst, NULL, 100, &p, err, sizeof(err)) == 0 &&
	    strcmp(show(&p), "send f, hlink g, hlink h") == 0,
	    "a symlink become a file is replaced in place, and its names "
	    "follow: %s", show(&p));
	plan_free(&p);
	scan_manifest_free(&src);
	scan_manifest_free(&dst);

	/* 60,000 directories, each with a file, all become files */
	{
		struct timespec	 t0, t1;
		char		 path[32];
		double		 secs;
		int		 i, n = 60000, twice = 0;

		memset(&src, 0, sizeof(src));
		memset(&dst, 0, sizeof(dst));
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "d%06d", i);
			add(&src, path, SCAN_FILE, "now a file", 0644);
			add(&dst, path, SCAN_DIR, NULL, 0755);
			snprintf(path, sizeof(path), "d%06d/f", i);
			add(&dst, path, SCAN_FILE, "inside", 0644);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok(plan_round(&src, &dst, NULL, 100, &p, err, sizeof(err)) == 0,
		    "%d changes of type: planned", n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (t1.tv_sec - t0.tv_sec) +
		    (t1.tv_nsec - t0.tv_nsec) / 1e9;
		for (i = 0; i + 1 < (int)p.n; i++)
			if (p.item[i].kind == PLAN_DELETE &&
			    p.item[i + 1].kind == PLAN_DELETE &&
			    p.item[i].e == p.item[i + 1].e)
				twice++;
		ok(p.ndelete == (size_t)2 * n && p.nsend == (size_t)n &&
		    twice == 0, "each directory and its file deleted once, "
		    "each file sent (%zu deletions, %zu sends)", p.ndelete,
		    p.nsend);
		ok(p.n > 3 && p.item[0].kind == PLAN_DELETE &&
		    strcmp(p.item[0].e->path, "d000000/f") == 0 &&
		    strcmp(p.item[1].e->path, "d000000") == 0 &&
		    p.item[2].kind == PLAN_FILE,
		    "the content goes first, then the directory, then the "
		    "file");
		ok(secs < 10, "in %.2f s, not in time quadratic in the tree "
		    "(a loaded machine keeps 10 s)", secs);
		plan_free(&p);
		scan_manifest_free(&src);
		scan_manifest_free(&dst);
	}
	return (tap_done());
}
