/*
 * syncd: replication of the synced directories (DESIGN.md section 7).
 * It takes its configuration and the directory fds first, then drops to
 * the sync user, confines itself with Landlock to those directories and
 * with seccomp.  This is the frame: configuration in, the event loop.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"

#define MAX_DIRS	64
#define MAX_PEERS	32

struct sync_dir {
	char		 path[PATH_LEN];
	int		 fd;
};

static struct imsgbuf		 ibuf_main;
static struct conf_sync_msg	 sconf;
static struct conf_peer		 peers[MAX_PEERS];
static int			 npeers;
static struct sync_dir		 dirs[MAX_DIRS];
static uint32_t			 ndirs;
static int			 conf_state;
static struct seen_msg		 seen;	/* the lease row, as heartbeatd saw it */

static void	 syncd_dispatch(void);

void
syncd_main(int debug, int verbose)
{
	struct pollfd	 pfd;
	int		 fds[MAX_DIRS];
	uint32_t	 i;

	log_init(debug, verbose);
	log_procinit(proc_name(PROC_SYNC));
	if (imsgbuf_init(&ibuf_main, CHILD_FD) == -1)
		fatal("imsgbuf_init");
	imsgbuf_allow_fdpass(&ibuf_main);

	/* the user and the directories come with the configuration */
	while (conf_state != 2)
		syncd_dispatch();

	proc_drop(PROC_SYNC, sconf.user, NULL, 0);
	for (i = 0; i < ndirs; i++)
		fds[i] = dirs[i].fd;
	sandbox_landlock(fds, ndirs);
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	sandbox_seccomp(PROC_SYNC);
	imsg_compose(&ibuf_main, IMSG_READY, 0, 0, -1, NULL, 0);

	for (;;) {
		pfd.fd = ibuf_main.fd;
		pfd.events = POLLIN;
		if (imsgbuf_queuelen(&ibuf_main) > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd.revents & POLLOUT)
			proc_write(&ibuf_main);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			syncd_dispatch();
	}
}

static void
syncd_dispatch(void)
{
	struct imsg		 imsg;
	struct conf_dir_msg	 dm;
	ssize_t			 n;
	int			 v;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_CONF_SYNC:
			if (conf_state != 0 || imsg_get_data(&imsg, &sconf,
			    sizeof(sconf)) == -1 || sconf.ndirs > MAX_DIRS)
				fatalx("bad IMSG_CONF_SYNC");
			sconf.node[NAME_LEN - 1] = '\0';
			sconf.cluster[NAME_LEN - 1] = '\0';
			sconf.user[NAME_LEN - 1] = '\0';
			conf_state = 1;
			break;
		case IMSG_CONF_PEER:
			if (conf_state != 1 || npeers >= MAX_PEERS ||
			    imsg_get_data(&imsg, &peers[npeers],
			    sizeof(peers[0])) == -1 ||
			    peers[npeers].npubkeys > MAX_PUBKEYS)
				fatalx("bad IMSG_CONF_PEER");
			peers[npeers].name[NAME_LEN - 1] = '\0';
			npeers++;
			break;
		case IMSG_CONF_DIR:
			if (conf_state != 1 || imsg_get_data(&imsg, &dm,
			    sizeof(dm)) == -1 || dm.index != ndirs ||
			    ndirs >= sconf.ndirs)
				fatalx("bad IMSG_CONF_DIR");
			if ((dirs[ndirs].fd = imsg_get_fd(&imsg)) == -1)
				fatalx("IMSG_CONF_DIR without a descriptor");
			dm.path[PATH_LEN - 1] = '\0';
			strlcpy(dirs[ndirs].path, dm.path, PATH_LEN);
			ndirs++;
			break;
		case IMSG_CONF_EXCLUDE:
			if (conf_state != 1 || imsg_get_data(&imsg, &dm,
			    sizeof(dm)) == -1 || ndirs == 0 ||
			    dm.index != ndirs - 1)
				fatalx("bad IMSG_CONF_EXCLUDE");
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || ndirs != sconf.ndirs ||
			    imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			conf_state = 2;
			log_debug("configuration: %u directories, %d peers",
			    ndirs, npeers);
			break;
		case IMSG_LEASE_SEEN:
			if (conf_state != 2 || imsg_get_data(&imsg, &seen,
			    sizeof(seen)) == -1)
				fatalx("bad IMSG_LEASE_SEEN");
			seen.holder[NAME_LEN - 1] = '\0';
			if (seen.epoch < -1)
				fatalx("bad epoch in IMSG_LEASE_SEEN");
			log_debug("lease: holder %s, epoch %lld",
			    seen.holder[0] ? seen.holder : "none",
			    (long long)seen.epoch);
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
