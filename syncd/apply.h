/*
 * syncd: applying what a sender ships, atomically and beneath the
 * directory fd the monitor opened (failoverd(8), "File replication").
 */

#ifndef APPLY_H
#define APPLY_H

#include <sys/types.h>
#include <stdint.h>

#define APPLY_MAXBATCH	1000		/* files in one batch */
#define APPLY_MAXBYTES	(4U << 20)	/* bytes in one batch */
#define APPLY_KICK	(8U << 20)	/* writeback started this often */

struct apply_file {
	int		 dir;		/* in the batch's directories */
	int		 fd;		/* the temporary file, until its end */
	char		 tmp[32];	/* "": renamed into place */
	char		 name[256];
	char		*path;		/* relative to the root */
	uint64_t	 size;
	uint64_t	 kicked;	/* writeback started up to here */
	uint64_t	 ino;		/* of the temporary file */
	int		 hardlink;	/* another name of a file, no data */
	int		 resumed;	/* a kept file gone on with */
	mode_t		 cmode;		/* the mode it was created with */
};

#define ATTIC_DIR	".failoverd-attic"

/* An attic: what the first round of an epoch replaced or deleted. */
struct apply_attic {
	int64_t		 epoch;
	uint64_t	 files;
};

struct apply_dir {
	int		 fd;
	char		*path;		/* relative to the root, "" for it */
};

struct apply_batch {
	int		 root;
	struct apply_file f[APPLY_MAXBATCH];
	int		 n;
	struct apply_dir *d;		/* each touched directory, once */
	int		 nd;
	int		 dcap;
	uint64_t	 bytes;
};

void	 apply_init(void);
int	 apply_open_beneath(int, const char *, int, mode_t);
int	 apply_path_valid(const char *, size_t);
int	 apply_path_reserved(const char *);
uint64_t apply_attic_taken(void);
int	 apply_attic_list(int, unsigned int, struct apply_attic *, int);
int	 apply_open_parent(int, const char *, int, char *, size_t);
struct apply_batch *apply_batch_new(int);
void	 apply_batch_free(struct apply_batch *);
int	 apply_file_begin(struct apply_batch *, const char *, mode_t,
	    struct apply_file *);
int	 apply_file_resume(struct apply_batch *, const char *, const char *,
	    uint64_t, uint64_t, struct apply_file *);
void	 apply_file_keep(struct apply_file *);
int	 apply_unlink_temp(int, const char *, const char *);
int	 apply_file_write(struct apply_file *, const void *, size_t,
	    uint64_t);
void	 apply_file_abort(struct apply_batch *, struct apply_file *);
int	 apply_file_end(struct apply_batch *, struct apply_file *, mode_t,
	    int64_t);
int	 apply_batch_commit(struct apply_batch *, int (*)(void *), void *,
	    const char *);
void	 apply_batch_abort(struct apply_batch *);
int	 apply_symlink(int, const char *, const char *, int64_t,
	    const char *);
int	 apply_hardlink(struct apply_batch *, const char *, const char *);
int	 apply_mkdir(int, const char *, mode_t);
int	 apply_remove(int, const char *, const char *);

#endif /* APPLY_H */
