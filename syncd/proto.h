/*
 * syncd: the frames of a session after its opening (syncd/PROTOCOL
 * section 4), encoded and decoded with every field checked.
 */

#ifndef PROTO_H
#define PROTO_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "failoverd.h"
#include "scan.h"

enum proto_type {
	P_FENCE = 1,	/* sender: {node, epoch} */
	P_REFUSE,	/* receiver: {reason}, then it closes */
	P_ENTRY,	/* a manifest entry */
	P_MEND,		/* the end of a directory's manifest */
	P_BEGIN,	/* a file: its attributes */
	P_DATA,		/* {offset, bytes} of the file begun */
	P_END,		/* the end of the file begun */
	P_LINK,		/* a symlink: {path, target} */
	P_MKDIR,	/* a directory */
	P_DELETE,	/* a path to remove */
	P_COMMIT,	/* apply the batch {seq} */
	P_ACK,		/* receiver: batch {seq} is durable */
	P_DONE,		/* the round is complete */
	P_RESUME,	/* receiver: a file it holds part of */
	P_HLINK,	/* another name of a file: {path, target path} */
	P_MAX
};

#define PROTO_MAXDATA	(65536 - 8)

struct proto_msg {
	uint8_t		 type;
	uint8_t		 dir;
	uint8_t		 ftype;		/* SCAN_FILE, _DIR, _LINK, _HLINK */
	uint32_t	 mode;
	uint64_t	 size;
	int64_t		 mtime_ns;
	uint8_t		 hash[SCAN_HASHLEN];
	char		 path[PATH_MAX];
	char		 target[PATH_MAX];
	char		 node[NAME_LEN];
	int64_t		 epoch;
	uint64_t	 off;
	uint64_t	 seq;
	const uint8_t	*data;
	size_t		 datalen;
	char		 reason[256];
};

int	 proto_decode(uint8_t, const uint8_t *, size_t, unsigned int,
	    struct proto_msg *, char *, size_t);
size_t	 proto_encode(const struct proto_msg *, uint8_t *, size_t);

#endif /* PROTO_H */
