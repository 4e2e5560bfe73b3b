/*
 * syncd: applying what a sender ships, atomically and beneath the
 * directory fd the monitor opened (DESIGN.md section 7).
 */

#ifndef APPLY_H
#define APPLY_H

#include <sys/types.h>
#include <stdint.h>

#define APPLY_MAXBATCH	1000		/* files in one batch */
#define APPLY_MAXBYTES	(4U << 20)	/* bytes in one batch */

struct apply_file {
	int		 parent;	/* the directory it lands in */
	int		 fd;		/* the temporary file */
	char		 tmp[32];
	char		 name[256];
	uint64_t	 size;
};

struct apply_batch {
	struct apply_file f[APPLY_MAXBATCH];
	int		 n;
	uint64_t	 bytes;
};

int	 apply_path_valid(const char *, size_t);
int	 apply_open_parent(int, const char *, int, char *, size_t);
int	 apply_file_begin(int, const char *, struct apply_file *);
int	 apply_file_write(struct apply_file *, const void *, size_t,
	    uint64_t);
int	 apply_file_end(struct apply_batch *, struct apply_file *, mode_t,
	    int64_t);
int	 apply_batch_commit(struct apply_batch *);
void	 apply_batch_abort(struct apply_batch *);
int	 apply_symlink(int, const char *, const char *);
int	 apply_remove(int, const char *);

#endif /* APPLY_H */
