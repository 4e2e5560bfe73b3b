/*
 * An implementation of the OpenBSD imsg API (imsg_init(3)) for failoverd:
 * framed messages over a stream socket, with one optional file descriptor
 * per message.  Written for this project; only the interface follows
 * OpenBSD's.
 */

#ifndef IMSG_H
#define IMSG_H

#include <sys/types.h>
#include <sys/uio.h>
#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define MAX_IMSGSIZE		16384
#define IMSG_FD_MARK		0x80000000U	/* in hdr.len: an fd rides along */

struct ibuf {
	TAILQ_ENTRY(ibuf)	 entry;
	unsigned char		*buf;
	size_t			 size;
	size_t			 max;
	size_t			 wpos;
	size_t			 rpos;
	int			 fd;
};

struct msgbuf {
	TAILQ_HEAD(, ibuf)	 bufs;
	uint32_t		 queued;
};

struct imsg_fdq {
	TAILQ_ENTRY(imsg_fdq)	 entry;
	int			 fd;
};

struct imsgbuf {
	struct msgbuf		 w;
	TAILQ_HEAD(, imsg_fdq)	 fds;
	unsigned char		*rbuf;
	size_t			 rsize;
	size_t			 rlen;
	uint32_t		 maxsize;
	int			 fdpass;
	int			 fd;
	pid_t			 pid;
};

struct imsg_hdr {
	uint32_t		 type;
	uint32_t		 len;
	uint32_t		 peerid;
	uint32_t		 pid;
};

struct imsg {
	struct imsg_hdr		 hdr;
	void			*data;
	int			 fd;
};

int		 imsgbuf_init(struct imsgbuf *, int);
void		 imsgbuf_allow_fdpass(struct imsgbuf *);
int		 imsgbuf_set_maxsize(struct imsgbuf *, uint32_t);
int		 imsgbuf_read(struct imsgbuf *);
int		 imsgbuf_write(struct imsgbuf *);
int		 imsgbuf_flush(struct imsgbuf *);
void		 imsgbuf_clear(struct imsgbuf *);
uint32_t	 imsgbuf_queuelen(struct imsgbuf *);

ssize_t		 imsg_get(struct imsgbuf *, struct imsg *);
int		 imsg_get_data(struct imsg *, void *, size_t);
int		 imsg_get_fd(struct imsg *);
uint32_t	 imsg_get_id(struct imsg *);
size_t		 imsg_get_len(struct imsg *);
pid_t		 imsg_get_pid(struct imsg *);
uint32_t	 imsg_get_type(struct imsg *);
void		 imsg_free(struct imsg *);

int		 imsg_compose(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
		    const void *, size_t);
int		 imsg_composev(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    int, const struct iovec *, int);
int		 imsg_forward(struct imsgbuf *, struct imsg *);
struct ibuf	*imsg_create(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    size_t);
int		 imsg_add(struct ibuf *, const void *, size_t);
void		 imsg_close(struct imsgbuf *, struct ibuf *);

#endif /* IMSG_H */
