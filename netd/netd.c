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
#include "timer.h"

enum {
	T_DROP		/* t0 + L - M: drop whatever the others do */
};

#define MAX_VIPS	256

static struct imsgbuf		 ibuf_main;
static struct conf_net		 nconf;
static struct conf_vip_msg	*vips;
static uint32_t			 nvips;
static int			 conf_state;
static struct timers		 timers;
static int64_t			 bound_epoch = -1;

static void	 netd_dispatch(void);

/*
 * The addresses carry the lease: netd keeps t0 + L - M on its own timer
 * and drops them then, with no word from any other process.
 */
static void
vip_deadline(uint64_t t0)
{
	timer_set_at(&timers, T_DROP, t0 + nconf.timing.dead -
	    nconf.timing.margin);
}

static void
vip_drop_all(const char *why)
{
	if (bound_epoch >= 0)
		log_notice("dropping the addresses of epoch %lld: %s",
		    (long long)bound_epoch, why);
	bound_epoch = -1;
	timer_stop(&timers, T_DROP);
}

void
netd_main(int debug, int verbose)
{
	struct pollfd	 pfd[2];

	log_init(debug, verbose);
	log_procinit(proc_name(PROC_NET));
	proc_drop(PROC_NET, FAILOVERD_USER, EMPTY_DIR,
	    CAPBIT(CAP_NET_ADMIN) | CAPBIT(CAP_NET_RAW));
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	timer_init(&timers);
	sandbox_seccomp(PROC_NET);
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
		if (pfd[1].revents & POLLIN) {
			timer_ack(&timers);
			if (timer_due(&timers, T_DROP))
				vip_drop_all("lease deadline t0 + L - M");
		}
		if (pfd[0].revents & POLLOUT)
			proc_write(&ibuf_main);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			netd_dispatch();
	}
}

static void
netd_dispatch(void)
{
	struct imsg		 imsg;
	struct conf_vip_msg	 vm;
	struct lease_msg	 lm;
	struct ok_msg		 o;
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
		case IMSG_VIP_BIND:
			if (conf_state != 2 || imsg_get_data(&imsg, &lm,
			    sizeof(lm)) == -1 || lm.epoch < 0)
				fatalx("bad IMSG_VIP_BIND");
			memset(&o, 0, sizeof(o));
			o.epoch = lm.epoch;
			if (now_ms() >= lm.t0 + nconf.timing.dead -
			    nconf.timing.margin) {
				strlcpy(o.reason, "lease deadline passed before "
				    "the bind", sizeof(o.reason));
			} else {
				bound_epoch = lm.epoch;
				vip_deadline(lm.t0);
				log_notice("bound %u addresses (epoch %lld)",
				    nvips, (long long)lm.epoch);
				o.ok = 1;
			}
			imsg_compose(&ibuf_main, IMSG_VIP_BOUND, 0, 0, -1, &o,
			    sizeof(o));
			break;
		case IMSG_VIP_EXTEND:
			if (conf_state != 2 || imsg_get_data(&imsg, &lm,
			    sizeof(lm)) == -1)
				fatalx("bad IMSG_VIP_EXTEND");
			/* an extension of a lease already dropped is refused */
			if (lm.epoch != bound_epoch)
				break;
			vip_deadline(lm.t0);
			imsg_compose(&ibuf_main, IMSG_VIP_EXTENDED, 0, 0, -1,
			    &lm, sizeof(lm));
			break;
		case IMSG_VIP_DROP:
			if (conf_state != 2 || imsg_get_data(&imsg, &lm,
			    sizeof(lm)) == -1)
				fatalx("bad IMSG_VIP_DROP");
			vip_drop_all("demotion");
			memset(&o, 0, sizeof(o));
			o.ok = 1;
			o.epoch = lm.epoch;
			imsg_compose(&ibuf_main, IMSG_VIP_DROPPED, 0, 0, -1, &o,
			    sizeof(o));
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
