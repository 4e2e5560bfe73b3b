/*
 * imsg: framed messages with file descriptor passing (see imsg.h).
 *
 * A message is a struct imsg_hdr followed by its payload.  hdr.len holds
 * the total length; its top bit says that one descriptor travels with the
 * message.  A descriptor is always sent with the first byte of its
 * message, in a sendmsg(2) of its own, so the receiver finds it queued by
 * the time the header is complete.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#define IMSG_MAX_FDS	16	/* descriptors taken in one recvmsg */

static struct ibuf	*ibuf_new(size_t);
static void		 ibuf_free(struct ibuf *);
static void		 msgbuf_dequeue(struct msgbuf *, size_t);
static int		 imsg_fd_push(struct imsgbuf *, int);
static int		 imsg_fd_pop(struct imsgbuf *);

int
imsgbuf_init(struct imsgbuf *ib, int fd)
{
	memset(ib, 0, sizeof(*ib));
	TAILQ_INIT(&ib->w.bufs);
	TAILQ_INIT(&ib->fds);
	ib->fd = fd;
	ib->pid = getpid();
	ib->maxsize = MAX_IMSGSIZE;
	ib->rsize = MAX_IMSGSIZE;
	if ((ib->rbuf = malloc(ib->rsize)) == NULL)
		return (-1);
	return (0);
}

void
imsgbuf_allow_fdpass(struct imsgbuf *ib)
{
	ib->fdpass = 1;
}

int
imsgbuf_set_maxsize(struct imsgbuf *ib, uint32_t max)
{
	unsigned char	*p;

	if (max < IMSG_HEADER_SIZE || max >= IMSG_FD_MARK ||
	    max < ib->rlen) {
		errno = EINVAL;
		return (-1);
	}
	if ((p = realloc(ib->rbuf, max)) == NULL)
		return (-1);
	ib->rbuf = p;
	ib->rsize = max;
	ib->maxsize = max;
	return (0);
}

/* Returns 1 when data or nothing (EAGAIN) came, 0 on EOF, -1 on error. */
int
imsgbuf_read(struct imsgbuf *ib)
{
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IMSG_MAX_FDS)];
	}		 cbuf;
	ssize_t		 n;
	int		*fdp, nfd, i, bad = 0;

	if (ib->rlen >= ib->rsize) {
		errno = ERANGE;
		return (-1);
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ib->rbuf + ib->rlen;
	iov.iov_len = ib->rsize - ib->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);

	if ((n = recvmsg(ib->fd, &msg, MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return (1);
		return (-1);
	}

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fdp = (int *)CMSG_DATA(cmsg);
		for (i = 0; i < nfd; i++) {
			if (!ib->fdpass || bad || imsg_fd_push(ib, fdp[i]) == -1) {
				close(fdp[i]);
				bad = 1;
			}
		}
	}
	if (bad || (msg.msg_flags & MSG_CTRUNC)) {
		errno = EBADMSG;
		return (-1);
	}
	if (n == 0)
		return (0);
	ib->rlen += n;
	return (1);
}

/* Returns 0 when everything possible was written (or EAGAIN), -1 on error. */
int
imsgbuf_write(struct imsgbuf *ib)
{
	struct iovec	 iov[IOV_MAX];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cbuf;
	struct ibuf	*buf, *first;
	ssize_t		 n;
	int		 i = 0;

	while ((first = TAILQ_FIRST(&ib->w.bufs)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		i = 0;
		TAILQ_FOREACH(buf, &ib->w.bufs, entry) {
			if (i >= IOV_MAX)
				break;
			/* a descriptor goes with its message's first byte */
			if (buf != first && buf->fd != -1)
				break;
			iov[i].iov_base = buf->buf + buf->rpos;
			iov[i].iov_len = buf->wpos - buf->rpos;
			i++;
			if (buf->fd != -1)
				break;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = i;
		if (first->fd != -1) {
			memset(&cbuf, 0, sizeof(cbuf));
			msg.msg_control = &cbuf.buf;
			msg.msg_controllen = sizeof(cbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &first->fd, sizeof(int));
		}
		if ((n = sendmsg(ib->fd, &msg, MSG_NOSIGNAL)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return (0);
			return (-1);
		}
		if (first->fd != -1) {
			close(first->fd);
			first->fd = -1;
		}
		msgbuf_dequeue(&ib->w, n);
	}
	return (0);
}

/* Write until the queue is empty, waiting on a non-blocking socket. */
int
imsgbuf_flush(struct imsgbuf *ib)
{
	struct pollfd	 pfd;

	while (ib->w.queued > 0) {
		if (imsgbuf_write(ib) == -1)
			return (-1);
		if (ib->w.queued == 0)
			break;
		pfd.fd = ib->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return (-1);
	}
	return (0);
}

void
imsgbuf_clear(struct imsgbuf *ib)
{
	struct ibuf	*buf;
	int		 fd;

	while ((buf = TAILQ_FIRST(&ib->w.bufs)) != NULL) {
		TAILQ_REMOVE(&ib->w.bufs, buf, entry);
		ibuf_free(buf);
	}
	ib->w.queued = 0;
	while ((fd = imsg_fd_pop(ib)) != -1)
		close(fd);
	free(ib->rbuf);
	ib->rbuf = NULL;
	ib->rlen = ib->rsize = 0;
}

uint32_t
imsgbuf_queuelen(struct imsgbuf *ib)
{
	return (ib->w.queued);
}

/*
 * Take one complete message off the read buffer.  Returns its length,
 * 0 when none is complete yet, -1 on a malformed or oversize message.
 */
ssize_t
imsg_get(struct imsgbuf *ib, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 len, datalen;
	int		 hasfd;

	if (ib->rlen < IMSG_HEADER_SIZE)
		return (0);
	memcpy(&hdr, ib->rbuf, sizeof(hdr));
	hasfd = (hdr.len & IMSG_FD_MARK) != 0;
	len = hdr.len & ~IMSG_FD_MARK;
	if (len < IMSG_HEADER_SIZE || len > ib->maxsize) {
		errno = ERANGE;
		return (-1);
	}
	if (len > ib->rlen)
		return (0);

	memset(imsg, 0, sizeof(*imsg));
	imsg->hdr = hdr;
	imsg->hdr.len = len;
	imsg->fd = -1;
	if (hasfd) {
		if ((imsg->fd = imsg_fd_pop(ib)) == -1) {
			errno = EBADMSG;
			return (-1);
		}
	}
	datalen = len - IMSG_HEADER_SIZE;
	if (datalen > 0) {
		if ((imsg->data = malloc(datalen)) == NULL) {
			if (imsg->fd != -1)
				close(imsg->fd);
			return (-1);
		}
		memcpy(imsg->data, ib->rbuf + IMSG_HEADER_SIZE, datalen);
	}
	memmove(ib->rbuf, ib->rbuf + len, ib->rlen - len);
	ib->rlen -= len;
	return (len);
}

/* Copy out the payload; it must be exactly len bytes. */
int
imsg_get_data(struct imsg *imsg, void *data, size_t len)
{
	if (len == 0 || imsg_get_len(imsg) != len) {
		errno = EBADMSG;
		return (-1);
	}
	memcpy(data, imsg->data, len);
	return (0);
}

/* The descriptor passes to the caller; a second call returns -1. */
int
imsg_get_fd(struct imsg *imsg)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	return (fd);
}

uint32_t
imsg_get_id(struct imsg *imsg)
{
	return (imsg->hdr.peerid);
}

size_t
imsg_get_len(struct imsg *imsg)
{
	return (imsg->hdr.len - IMSG_HEADER_SIZE);
}

pid_t
imsg_get_pid(struct imsg *imsg)
{
	return (imsg->hdr.pid);
}

uint32_t
imsg_get_type(struct imsg *imsg)
{
	return (imsg->hdr.type);
}

void
imsg_free(struct imsg *imsg)
{
	if (imsg->fd != -1)
		close(imsg->fd);
	free(imsg->data);
	imsg->data = NULL;
	imsg->fd = -1;
}

int
imsg_compose(struct imsgbuf *ib, uint32_t type, uint32_t id, pid_t pid,
    int fd, const void *data, size_t datalen)
{
	struct iovec	 iov;

	iov.iov_base = (void *)data;
	iov.iov_len = datalen;
	return (imsg_composev(ib, type, id, pid, fd, &iov,
	    datalen > 0 ? 1 : 0));
}

int
imsg_composev(struct imsgbuf *ib, uint32_t type, uint32_t id, pid_t pid,
    int fd, const struct iovec *iov, int iovcnt)
{
	struct ibuf	*buf;
	size_t		 len = 0;
	int		 i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if ((buf = imsg_create(ib, type, id, pid, len)) == NULL)
		return (-1);
	for (i = 0; i < iovcnt; i++)
		if (imsg_add(buf, iov[i].iov_base, iov[i].iov_len) == -1)
			return (-1);
	buf->fd = fd;
	imsg_close(ib, buf);
	return (1);
}

int
imsg_forward(struct imsgbuf *ib, struct imsg *imsg)
{
	return (imsg_compose(ib, imsg->hdr.type, imsg->hdr.peerid,
	    imsg->hdr.pid, -1, imsg->data, imsg_get_len(imsg)));
}

struct ibuf *
imsg_create(struct imsgbuf *ib, uint32_t type, uint32_t id, pid_t pid,
    size_t datalen)
{
	struct ibuf	*buf;
	struct imsg_hdr	 hdr;

	if (datalen > ib->maxsize - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (NULL);
	}
	if ((buf = ibuf_new(IMSG_HEADER_SIZE + datalen)) == NULL)
		return (NULL);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.peerid = id;
	hdr.pid = pid == 0 ? (uint32_t)ib->pid : (uint32_t)pid;
	memcpy(buf->buf, &hdr, sizeof(hdr));
	buf->wpos = sizeof(hdr);
	return (buf);
}

/* Returns datalen, or -1 (and frees buf) when it would not fit. */
int
imsg_add(struct ibuf *buf, const void *data, size_t datalen)
{
	if (datalen > buf->max - buf->wpos) {
		ibuf_free(buf);
		errno = ERANGE;
		return (-1);
	}
	if (datalen > 0)
		memcpy(buf->buf + buf->wpos, data, datalen);
	buf->wpos += datalen;
	return ((int)datalen);
}

void
imsg_close(struct imsgbuf *ib, struct ibuf *buf)
{
	struct imsg_hdr	 hdr;

	memcpy(&hdr, buf->buf, sizeof(hdr));
	hdr.len = buf->wpos;
	if (buf->fd != -1)
		hdr.len |= IMSG_FD_MARK;
	memcpy(buf->buf, &hdr, sizeof(hdr));
	TAILQ_INSERT_TAIL(&ib->w.bufs, buf, entry);
	ib->w.queued++;
}

static struct ibuf *
ibuf_new(size_t len)
{
	struct ibuf	*buf;

	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return (NULL);
	if ((buf->buf = malloc(len)) == NULL) {
		free(buf);
		return (NULL);
	}
	buf->size = buf->max = len;
	buf->fd = -1;
	return (buf);
}

static void
ibuf_free(struct ibuf *buf)
{
	if (buf == NULL)
		return;
	if (buf->fd != -1)
		close(buf->fd);
	free(buf->buf);
	free(buf);
}

static void
msgbuf_dequeue(struct msgbuf *mb, size_t n)
{
	struct ibuf	*buf;

	while ((buf = TAILQ_FIRST(&mb->bufs)) != NULL && n > 0) {
		if (n >= buf->wpos - buf->rpos) {
			n -= buf->wpos - buf->rpos;
			TAILQ_REMOVE(&mb->bufs, buf, entry);
			ibuf_free(buf);
			mb->queued--;
		} else {
			buf->rpos += n;
			n = 0;
		}
	}
}

static int
imsg_fd_push(struct imsgbuf *ib, int fd)
{
	struct imsg_fdq	*q;

	if ((q = malloc(sizeof(*q))) == NULL)
		return (-1);
	q->fd = fd;
	TAILQ_INSERT_TAIL(&ib->fds, q, entry);
	return (0);
}

static int
imsg_fd_pop(struct imsgbuf *ib)
{
	struct imsg_fdq	*q;
	int		 fd;

	if ((q = TAILQ_FIRST(&ib->fds)) == NULL)
		return (-1);
	TAILQ_REMOVE(&ib->fds, q, entry);
	fd = q->fd;
	free(q);
	return (fd);
}
