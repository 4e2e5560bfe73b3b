/*
 * syncd: planning a round.  Both manifests are sorted by path, so one
 * merge finds what is new or changed on the sender (shipped in path
 * order: a directory before what it holds) and what is gone (deleted
 * after all new data, deepest first).  A file whose size, hash, mode or
 * mtime differ is shipped again; a standby that was down gets only the
 * difference.  An entry that became or stopped being a directory is
 * removed with what it holds before its replacement is shipped: what it
 * holds is one run of the sorted manifest, found by binary search.  A
 * file, a symlink and a hard link replace one another in place (the
 * receiver renames the new one over the old): nothing is deleted, and
 * the path is never missing.
 * A hard link (another name of a file earlier in the tree) is shipped
 * when it is new or names another file, and also whenever that file is
 * shipped: the receiver's copy of the file is a new inode, which the
 * link must name too.
 * stale, where given, marks the receiver's entries it may not hold as
 * they are (a file that changed while it was sent): those are shipped.
 * Guards: an empty source is refused (an unmounted disk looks like
 * that), and so is a round that would delete more than max-delete
 * percent of the receiver's entries.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static int
push(struct plan *p, enum plan_kind k, const struct scan_entry *e)
{
	struct plan_item	*it;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		if ((it = reallocarray(p->item, p->cap, sizeof(*it))) == NULL)
			return (-1);
		p->item = it;
	}
	p->item[p->n].kind = k;
	p->item[p->n].e = e;
	p->n++;
	if (k == PLAN_DELETE)
		p->ndelete++;
	else {
		p->nsend++;
		if (k == PLAN_FILE)
			p->bytes += e->size;
	}
	return (0);
}

static int
ship(struct plan *p, const struct scan_entry *e)
{
	switch (e->type) {
	case SCAN_FILE:
		return (push(p, PLAN_FILE, e));
	case SCAN_LINK:
		return (push(p, PLAN_LINK, e));
	case SCAN_HLINK:
		return (push(p, PLAN_HLINK, e));
	default:
		return (push(p, PLAN_MKDIR, e));
	}
}

static int
differs(const struct scan_entry *a, const struct scan_entry *b, int stale)
{
	if (a->type != b->type)
		return (1);
	/* the receiver's file or link may not be what this entry says */
	if (stale && (a->type == SCAN_FILE || a->type == SCAN_HLINK))
		return (1);
	switch (a->type) {
	case SCAN_FILE:
		/* equal only when both contents are known to be */
		return (a->size != b->size || a->mode != b->mode ||
		    a->mtime_ns != b->mtime_ns || !a->hashed || !b->hashed ||
		    memcmp(a->hash, b->hash, SCAN_HASHLEN) != 0);
	case SCAN_LINK:
	case SCAN_HLINK:
		return (strcmp(a->link, b->link) != 0);
	default:
		return (a->mode != b->mode);
	}
}

/* The first entry at or after key, in a manifest sorted by path. */
static size_t
lower_bound(const struct scan_manifest *m, size_t from, const char *key)
{
	size_t	 lo = from, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(m->e[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* Is the file a hard link at i names shipped in this round? */
static int
target_sent(const struct scan_manifest *src, size_t i, const char *sent)
{
	size_t	 t = lower_bound(src, 0, src->e[i].link);

	return (t < i && strcmp(src->e[t].path, src->e[i].link) == 0 &&
	    sent[t]);
}

int
plan_round(const struct scan_manifest *src, const struct scan_manifest *dst,
    const uint8_t *stale, unsigned int max_delete, struct plan *p, char *err,
    size_t errlen)
{
	const struct scan_entry	**del = NULL;
	char			*gone = NULL, *sent = NULL, key[PATH_MAX + 1];
	size_t			 i = 0, j = 0, nd = 0, k, r, len;
	int			 c;

	memset(p, 0, sizeof(*p));
	/* the guard protects what the receiver has: two empty trees are
	 * simply in sync */
	if (src->n == 0 && dst->n > 0) {
		snprintf(err, errlen, "the source directory is empty");
		return (-1);
	}
	if (src->n == 0)
		return (0);
	if ((dst->n > 0 && ((del = calloc(dst->n, sizeof(*del))) == NULL ||
	    (gone = calloc(dst->n, 1)) == NULL)) ||
	    (sent = calloc(src->n, 1)) == NULL) {
		free(del);
		free(gone);
		return (-1);
	}
	while (i < src->n || j < dst->n) {
		if (i == src->n)
			c = 1;
		else if (j == dst->n)
			c = -1;
		else
			c = strcmp(src->e[i].path, dst->e[j].path);
		if (j < dst->n && gone[j]) {
			j++;		/* removed with a replaced parent */
			continue;
		}
		if (c < 0) {
			sent[i] = 1;
			if (ship(p, &src->e[i++]) == -1)
				goto fail;
		} else if (c > 0)
			del[nd++] = &dst->e[j++];
		else if ((src->e[i].type == SCAN_DIR) !=
		    (dst->e[j].type == SCAN_DIR)) {
			/*
			 * The old entry and its subtree go first, deepest
			 * first.  The subtree is not next to it ("d-x" sorts
			 * between "d" and "d/x"), but it is one run: the paths
			 * that start with "d/".
			 */
			len = strlen(dst->e[j].path);
			if (len + 1 >= sizeof(key))
				goto fail;
			memcpy(key, dst->e[j].path, len);
			key[len] = '/';
			key[len + 1] = '\0';
			k = lower_bound(dst, j + 1, key);
			for (r = 0; k + r < dst->n &&
			    strncmp(dst->e[k + r].path, key, len + 1) == 0; r++)
				;
			while (r-- > 0)
				if (!gone[k + r]) {
					gone[k + r] = 1;
					if (push(p, PLAN_DELETE,
					    &dst->e[k + r]) == -1)
						goto fail;
				}
			sent[i] = 1;
			if (push(p, PLAN_DELETE, &dst->e[j++]) == -1 ||
			    ship(p, &src->e[i++]) == -1)
				goto fail;
		} else {
			if ((differs(&src->e[i], &dst->e[j],
			    stale != NULL && stale[j]) ||
			    (src->e[i].type == SCAN_HLINK &&
			    target_sent(src, i, sent))) &&
			    ((sent[i] = 1), ship(p, &src->e[i])) == -1)
				goto fail;
			i++;
			j++;
		}
	}
	nd += p->ndelete;	/* with those of type changes */
	if (dst->n > 0 && nd * 100 > (size_t)max_delete * dst->n) {
		snprintf(err, errlen, "the round would delete %zu of %zu "
		    "entries, more than max-delete %u%%", nd, dst->n,
		    max_delete);
		free(del);
		free(gone);
		free(sent);
		plan_free(p);
		return (-1);
	}
	/* deletions after new data, deepest first */
	for (k = nd - p->ndelete; k > 0; k--)
		if (push(p, PLAN_DELETE, del[k - 1]) == -1)
			goto fail;
	free(del);
	free(gone);
	free(sent);
	return (0);
fail:
	free(del);
	free(gone);
	free(sent);
	plan_free(p);
	snprintf(err, errlen, "out of memory");
	return (-1);
}

void
plan_free(struct plan *p)
{
	free(p->item);
	memset(p, 0, sizeof(*p));
}
