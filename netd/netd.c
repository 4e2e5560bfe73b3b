/*
 * netd: the virtual IPs (DESIGN.md section 5).  It keeps CAP_NET_ADMIN
 * and CAP_NET_RAW only, runs as _failoverd in a chroot under seccomp, and
 * acts only on VIPs of its own copy of the configuration, by index.
 * This is the frame: configuration in, the event loop.
 */

#include <sys/types.h>
#include <linux/capability.h>

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

#define MAX_VIPS	256

static struct imsgbuf		 ibuf_main;
static struct conf_net		 nconf;
static struct conf_vip_msg	*vips;
static uint32_t			 nvips;
static int			 conf_state;

static void	 netd_dispatch(void);

void
netd_main(int debug, int verbose)
{
	struct pollfd	 pfd;

	log_init(debug, verbose);
	log_procinit(proc_name(PROC_NET));
	proc_drop(PROC_NET, FAILOVERD_USER, EMPTY_DIR,
	    CAPBIT(CAP_NET_ADMIN) | CAPBIT(CAP_NET_RAW));
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	sandbox_seccomp(PROC_NET);
	if (imsgbuf_init(&ibuf_main, CHILD_FD) == -1)
		fatal("imsgbuf_init");

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
			netd_dispatch();
	}
}

static void
netd_dispatch(void)
{
	struct imsg		 imsg;
	struct conf_vip_msg	 vm;
	ssize_t			 n;
	int			 v;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_CONF_NET:
			if (conf_state != 0 || imsg_get_data(&imsg, &nconf,
			    sizeof(nconf)) == -1 || nconf.nvips > MAX_VIPS)
				fatalx("bad IMSG_CONF_NET");
			if (nconf.nvips > 0 && (vips = calloc(nconf.nvips,
			    sizeof(*vips))) == NULL)
				fatal(NULL);
			conf_state = 1;
			break;
		case IMSG_CONF_VIP:
			/* VIPs come in index order; the index is checked */
			if (conf_state != 1 || imsg_get_data(&imsg, &vm,
			    sizeof(vm)) == -1 || vm.index != nvips ||
			    nvips >= nconf.nvips ||
			    (vm.addr.af != AF_INET && vm.addr.af != AF_INET6) ||
			    vm.prefixlen > (vm.addr.af == AF_INET ? 32 : 128))
				fatalx("bad IMSG_CONF_VIP");
			vm.ifname[IFNAMSIZ - 1] = '\0';
			vm.label[IFNAMSIZ - 1] = '\0';
			vips[nvips++] = vm;
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || nvips != nconf.nvips ||
			    imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			conf_state = 2;
			log_debug("configuration: %u vips", nvips);
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
