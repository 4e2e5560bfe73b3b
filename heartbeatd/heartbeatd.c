/*
 * heartbeatd: the lease protocol with PostgreSQL (DESIGN.md section 4).
 * It runs as _failoverd without capabilities under seccomp, and decides
 * the role.  This is the frame: configuration in, the event loop.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "timer.h"

#define MAX_NODES	32

static struct imsgbuf		 ibuf_main;
static struct conf_heartbeat	 hconf;
static struct conf_peer		 nodes[MAX_NODES];
static int			 nnodes;
static int			 conf_state;	/* 0 none, 1 header, 2 done */

static void	 heartbeatd_dispatch(void);

void
heartbeatd_main(int debug, int verbose)
{
	struct pollfd	 pfd[2];
	struct timers	 timers;

	log_init(debug, verbose);
	log_procinit(proc_name(PROC_HEARTBEAT));
	proc_drop(PROC_HEARTBEAT, FAILOVERD_USER, NULL, 0);
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	timer_init(&timers);
	sandbox_seccomp(PROC_HEARTBEAT);
	if (imsgbuf_init(&ibuf_main, CHILD_FD) == -1)
		fatal("imsgbuf_init");

	for (;;) {
		pfd[0].fd = ibuf_main.fd;
		pfd[0].events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_main) > 0)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = timers.fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLOUT)
			proc_write(&ibuf_main);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			heartbeatd_dispatch();
		if (pfd[1].revents & POLLIN)
			timer_ack(&timers);
	}
}

static void
heartbeatd_dispatch(void)
{
	struct imsg	 imsg;
	ssize_t		 n;
	int		 v;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_CONF_HEARTBEAT:
			if (conf_state != 0 || imsg_get_data(&imsg, &hconf,
			    sizeof(hconf)) == -1)
				fatalx("bad IMSG_CONF_HEARTBEAT");
			hconf.cluster[sizeof(hconf.cluster) - 1] = '\0';
			hconf.node[sizeof(hconf.node) - 1] = '\0';
			hconf.conninfo[sizeof(hconf.conninfo) - 1] = '\0';
			conf_state = 1;
			break;
		case IMSG_CONF_NODE:
			if (conf_state != 1 || nnodes >= MAX_NODES ||
			    imsg_get_data(&imsg, &nodes[nnodes],
			    sizeof(nodes[0])) == -1)
				fatalx("bad IMSG_CONF_NODE");
			nodes[nnodes].name[NAME_LEN - 1] = '\0';
			nnodes++;
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			conf_state = 2;
			log_debug("configuration: cluster %s, node %s, %d "
			    "nodes", hconf.cluster, hconf.node, nnodes);
			imsg_compose(&ibuf_main, IMSG_READY, 0, 0, -1, NULL, 0);
			break;
		case IMSG_LOG_VERBOSE:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				fatalx("bad IMSG_LOG_VERBOSE");
			log_setverbose(v);
			break;
		default:
			fatalx("unexpected message %u", imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
}
