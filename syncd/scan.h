/*
 * syncd: the manifest of a synced directory (failoverd(8), "File replication").
 */

#ifndef SCAN_H
#define SCAN_H

#include <sys/types.h>
#include <sys/stat.h>
#include <stdint.h>

#define SCAN_HASHLEN	32	/* BLAKE2b-256 */

enum scan_type {
	SCAN_FILE = 'f',
	SCAN_DIR = 'd',
	SCAN_LINK = 'l',
	SCAN_HLINK = 'h'	/* another name of a file earlier in the tree */
};

/*
 * 88 bytes, and the path's bytes in the manifest's string blocks: a
 * sender holds one of these for each path of its tree (two while a
 * new scan is compared with the last).
 */
struct scan_entry {
	char		*path;		/* relative, no leading "./" */
	char		*link;		/* SCAN_LINK: its target; SCAN_HLINK:
					   the path of its first name */
	uint64_t	 size;
	int64_t		 mtime_ns;
	int64_t		 ctime_ns;	/* local: what was scanned */
	uint64_t	 ino;		/* local: on the directory's
					   filesystem */
	uint8_t		 hash[SCAN_HASHLEN];
	uint32_t	 nlink;		/* local: its names, in all */
	uint16_t	 mode;		/* at most 07777 */
	uint8_t		 type;
	uint8_t		 hashed;	/* hash is the content's */
};

struct scan_strs;

struct scan_manifest {
	struct scan_entry *e;
	size_t		 n;
	size_t		 cap;
	struct scan_strs *strs;		/* the paths' and targets' bytes */
};

struct scan_stats {
	uint64_t	 files;
	uint64_t	 hashed_files;	/* read this time, not from the cache */
	uint64_t	 hashed_bytes;
	uint64_t	 skipped;	/* neither file, directory nor link */
	uint64_t	 hardlinks;	/* names of a file but its first */
};

/* A path a scan skips (a FIFO, a socket, a device), for the log. */
typedef void	(*scan_skip_cb)(const char *, mode_t, void *);

struct scan_cache;

struct scan_cache *scan_cache_new(void);
void		 scan_cache_free(struct scan_cache *);
void		 scan_cache_clean_temps(struct scan_cache *, int);
void		 scan_cache_lazy(struct scan_cache *, int);
void		 scan_cache_by_path(struct scan_cache *,
		    const struct scan_manifest *);
void		 scan_cache_forget(struct scan_cache *);
void		 scan_cache_tree(struct scan_cache *, dev_t,
		    const struct scan_manifest *);
void		 scan_cache_keep(struct scan_cache *, const char *);
void		 scan_cache_put(struct scan_cache *, const struct stat *,
		    const uint8_t [SCAN_HASHLEN]);
int		 scan_hash_entry(int, struct scan_cache *, struct scan_entry *);
void		 scan_cache_on_skip(struct scan_cache *, scan_skip_cb, void *);
int		 scan_dir(int, char * const *, struct scan_cache *,
		    struct scan_manifest *, struct scan_stats *);
void		 scan_manifest_free(struct scan_manifest *);
char		*scan_strdup(struct scan_manifest *, const char *);

#endif /* SCAN_H */
