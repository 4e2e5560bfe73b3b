/*
 * syncd: the state its parts share (failoverd(8), "File replication").
 */

#ifndef SYNCD_H
#define SYNCD_H

#include <sys/queue.h>
#include <sys/types.h>

#include <sodium.h>
#include <stdint.h>

#include "apply.h"
#include "failoverd.h"
#include "plan.h"
#include "proto.h"
#include "scan.h"
#include "session.h"
#include "util.h"

#define MAX_DIRS	64
#define MAX_EXCLUDES	32
#define MAX_INFLIGHT	4		/* batches sent and not acknowledged */
#define REKEY_MS	3600000		/* a new handshake every hour */
#define OPEN_TIMEOUT_MS	10000		/* sender: for a session to open */
#define UNAUTH_TIMEOUT_MS 5000		/* receiver: hello, handshake, FENCE */
#define MAX_UNAUTH	4		/* receiver: sessions opening at once */
#define UNAUTH_LOG_MS	60000		/* a refused address logged again */
#define ACCEPT_PAUSE_MS	1000		/* out of descriptors: listen again */
#define RESUME_CHUNK	(4ULL << 20)	/* files resume at a multiple */
#define MANIFEST_MAX_ENTRIES 1000000	/* a receiver's, per directory */
#define MANIFEST_MAX_BYTES (128ULL << 20) /* of its names, all directories */

struct sync_dir {
	char		 path[PATH_LEN];
	int		 fd;
	dev_t		 dev;		/* its filesystem at start */
	char		*ex[MAX_EXCLUDES + 1];
	int		 nex;
	struct scan_cache *cache;
};

/* The local tree at the start of a round, shared by the peers' rounds. */
struct snap {
	int			 refs;
	uint64_t		 id;
	struct scan_manifest	 m[MAX_DIRS];
};

enum conn_state {
	C_CONNECT,	/* sender: TCP connecting */
	C_OPENING,	/* the handshake */
	C_WAIT,		/* sender: the manifest; receiver: the fence */
	C_MANIFEST,	/* receiver: sending its manifest */
	C_READY,	/* between rounds */
	C_ROUND,	/* sender: shipping a round */
	C_DONE,		/* sender: DONE sent, waiting for the receiver's */
	C_CLOSING	/* our final frame is out; then close */
};

struct speer;

struct dirty {
	uint8_t		 dir;
	char		*path;
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	int			 fd;
	int			 sender;
	struct speer		*sp;		/* sender: whom it ships to */
	char			 addr[ADDR_STRLEN];	/* the peer's IP */
	char			 node[NAME_LEN];
	struct session		 s;
	struct session_peer	*speers;	/* receiver: who may connect */
	enum conn_state		 state;
	uint64_t		 opened;	/* ms, the TCP connection */
	int64_t			 epoch;		/* fenced at */
	int			 dead;
	char			 error[FAULT_LEN];

	/* sender */
	struct scan_manifest	*remote;	/* the receiver's tree, as it
						   sent it: the first round */
	struct snap		*rsnap;		/* after a round: its snapshot
						   is the receiver's tree, */
	uint8_t			**rstale;	/* but for these entries */
	uint32_t		 mdir;		/* its manifest: this dir next */
	uint64_t		 mbytes;	/* its names' bytes so far */
	struct snap		*snap;
	struct plan		*plan;
	uint32_t		 pdir;
	size_t			 pitem;
	int			 ffd;		/* the file being sent */
	const struct scan_entry	*fe;
	uint64_t		 foff;
	crypto_generichash_state hs;		/* of the file being sent */
	uint64_t		 seq, acked;
	uint32_t		 bfiles;
	uint64_t		 bbytes;
	uint64_t		 rfiles, rbytes, rdeleted;	/* this round */
	struct dirty		*dirty;
	size_t			 ndirty, capdirty;
	int			 again;		/* another round when done */
	char			 rerror[FAULT_LEN];	/* this round */
	struct {
		int		 set;
		uint32_t	 dir;
		char		*path;
		uint64_t	 size;
		int64_t		 mtime_ns;
		uint64_t	 off;
	}			 rs;		/* what the receiver holds part of */

	/* receiver */
	struct scan_manifest	*local;
	uint32_t		 sdir;
	size_t			 sidx;
	char			 attic[32];	/* "": a later round */
	struct apply_batch	*batch;
	uint32_t		 bdir;
	struct apply_file	 f;
	int			 in_file;
	uint32_t		 fdir;
	uint64_t		 fsize, fnext;
	uint32_t		 fmode;
	int64_t			 fmtime;
	uint64_t		 commits;
	int			 rmatch;	/* the file begun may resume */
	crypto_generichash_state fh;		/* of the file begun */
	int			 resume_offered;
	unsigned int		 hcopies;	/* hard links made as copies */
};

/* A receiver's file cut off by a broken session, kept to resume. */
struct resume {
	int		 set;
	uint32_t	 dir;
	char		 path[PATH_MAX];
	char		 tmp[32];
	uint64_t	 ino;		/* of tmp */
	uint64_t	 size;
	int64_t		 mtime_ns;
	uint64_t	 off;
	char		 holder[NAME_LEN];	/* who sent it, at what epoch */
	int64_t		 epoch;
};

struct speer {
	struct conf_peer	 c;
	struct session_peer	 sp;
	char			 addr[ADDR_STRLEN];
	uint16_t		 port;
	struct conn		*conn;
	uint64_t		 next_try;
	uint32_t		 backoff;
	char			 state[16];
	int64_t			 last_ok;
	uint64_t		 bad_since;	/* ms, 0: fine */
	int			 reached;	/* a session opened since */
	int			 alerted;	/* 1: sync-failed, 2: peer-down */
	char			 error[FAULT_LEN];
	int			 ctl_wait;
};

struct syncd {
	struct conf_sync_msg	 conf;
	struct speer		 peers[MAX_SYNC_PEERS];
	struct session_peer	 speers[MAX_SYNC_PEERS];
	int			 npeers;
	struct fo_addr		 self_addr;	/* this node's, a node's too */
	struct sync_dir		 dirs[MAX_DIRS];
	uint32_t		 ndirs;
	uint32_t		 role;
	uint32_t		 forced;	/* demoting: the lease is lost */
	int64_t			 epoch;		/* held, when active */
	struct seen_msg		 seen;
	int64_t			 attic_done;	/* its first round is over */
	int64_t			 attic_counting;	/* apply_attic_taken's */
	struct sync_attic_status attics[MAX_ATTICS];	/* newest first */
	uint32_t		 nattics;
	struct resume		 resume;
	TAILQ_HEAD(, conn)	 conns;
	struct snap		*snap;		/* the newest */
	uint64_t		 snap_seq;
	int			 want_round;
	uint64_t		 round_at;
	uint64_t		 next_scan;
	int64_t			 last_ok;
	uint64_t		 files, bytes;
	uint64_t		 skipped;	/* at the last scan */
	uint64_t		 skipping;	/* in the scan under way */
	int			 scan_say;	/* the next scan logs them */
	char			 last_error[FAULT_LEN];
	int			 status_dirty;
	uint32_t		 ctl_id;
	int			 ctl_final;	/* the round is IMSG_SYNC_FINAL's */
	uint64_t		 ctl_snap;	/* rounds from this snapshot on */
	uint64_t		 ctl_deadline;
	int			 ctl_failed;
	char			 ctl_msg[CTL_MSG_LEN];
};

extern struct syncd	 syncd;

/* syncd.c */
int		 syncd_active(void);
void		 syncd_poll_monitor(void);
void		 syncd_status_changed(void);
void		 syncd_peer_failed(struct speer *, const char *);
void		 syncd_peer_ok(struct speer *);
void		 syncd_round_wanted(uint64_t);
void		 syncd_ctl_peer_done(struct speer *, int, const char *);
void		 syncd_guard_failed(const char *);
void		 syncd_attics(int64_t, uint64_t);
void		 syncd_snap_unref(struct snap *);
void		 syncd_scan_begin(int);
void		 syncd_scan_end(void);

/* conn.c */
struct conn	*conn_connect(struct speer *);
int		 conn_accept(int);
void		 conn_events(struct conn *, short);
short		 conn_pollmask(struct conn *);
int		 conn_send(struct conn *, struct proto_msg *, int);
void		 conn_refuse(struct conn *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 conn_close(struct conn *, const char *);
void		 conn_end(struct conn *);
void		 conn_free(struct conn *);

/* send.c */
void		 send_opened(struct conn *);
void		 send_round(struct conn *, struct snap *);
void		 send_fill(struct conn *);
int		 send_frame(struct conn *, struct proto_msg *);

/* recv.c */
void		 recv_fill(struct conn *);
int		 recv_frame(struct conn *, struct proto_msg *);
void		 recv_check_fence(struct conn *);
void		 recv_abort(struct conn *);
void		 recv_resume_drop(void);

/*
 * Room in the send buffer for the largest frame: no more frames are read
 * or made while the answers to them could not go out.
 */
static inline int
conn_room(const struct conn *c)
{
	return (c->s.w.outlen + 4 + 1 + WIRE_MAXBODY +
	    crypto_secretstream_xchacha20poly1305_ABYTES <= WIRE_BUFSIZE);
}

#endif /* SYNCD_H */
