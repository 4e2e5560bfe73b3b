/*
 * syncd: what a round must ship, from two path-sorted manifests.
 */

#ifndef PLAN_H
#define PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"

enum plan_kind {
	PLAN_FILE,	/* send the sender's file */
	PLAN_LINK,
	PLAN_HLINK,	/* another name of a file shipped or in place */
	PLAN_MKDIR,
	PLAN_DELETE	/* remove the receiver's entry */
};

struct plan_item {
	enum plan_kind		 kind;
	const struct scan_entry	*e;	/* sender's, or receiver's to delete */
};

struct plan {
	struct plan_item	*item;
	size_t			 n;
	size_t			 cap;
	size_t			 nsend;
	size_t			 ndelete;
	uint64_t		 bytes;
};

int	 plan_round(const struct scan_manifest *,
	    const struct scan_manifest *, const uint8_t *, unsigned int,
	    struct plan *, char *, size_t);
void	 plan_free(struct plan *);

#endif /* PLAN_H */
