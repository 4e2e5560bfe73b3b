/*
 * netd: the virtual IPs (failoverd(8), "Virtual IP addresses").  It keeps CAP_NET_ADMIN
 * and CAP_NET_RAW only, runs as _failoverd in a chroot under seccomp, and
 * acts only on the VIPs of its own copy of the configuration: a request
 * says bind, extend or drop them all, never which address or interface.
 *
 * The VIPs carry the lease: netd drops them at t0 + L - M by its own
 * timer, whatever the other processes do, and their kernel lifetime ends
 * before a standby may take over even if netd itself is killed.
 */

#include <sys/types.h>
#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "netd.h"
#include "proc.h"
#include "sandbox.h"
#include "timer.h"
#include "util.h"

#define MAX_VIPS	256

enum {
	T_DROP,		/* t0 + L - M: drop whatever the others do */
	T_PROBE,	/* probe wait is over: bind or report the conflict */
	T_GARP		/* the next announcement */
};

struct vip			*vips;
uint32_t			 nvips;
struct conf_net			 nconf;

static struct imsgbuf		 ibuf_main;
static int			 conf_state;
static struct timers		 timers;
static int64_t			 epoch = -1;	/* the lease the VIPs carry */
static uint64_t			 t0;
static int			 binding;	/* probing before the bind */
static uint32_t			 garp_left;

static void	 netd_dispatch(void);

static void
send_main(uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&ibuf_main, type, 0, 0, -1, data, len) == -1)
		fatal("imsg_compose");
}

void
netd_vip_state(struct vip *v)
{
	struct vip_state	 s;

	if (conf_state != 2)
		return;
	s.index = v->c.index;
	s.bound = v->bound;
	send_main(IMSG_VIP_STATE, &s, sizeof(s));
}

void
netd_fault(enum fault_source src, const char *fmt, ...)
{
	struct fault_msg f;
	va_list		 ap;

	memset(&f, 0, sizeof(f));
	f.source = src;
	f.epoch = epoch;
	va_start(ap, fmt);
	vsnprintf(f.reason, sizeof(f.reason), fmt, ap);
	va_end(ap);
	send_main(IMSG_FAULT, &f, sizeof(f));
}

void
netd_fault_clear(enum fault_source src, const char *what)
{
	struct fault_msg f;

	memset(&f, 0, sizeof(f));
	f.source = src;
	f.ok = 1;
	f.epoch = epoch;
	strlcpy(f.reason, what, sizeof(f.reason));
	send_main(IMSG_FAULT, &f, sizeof(f));
}

static int
drop_all(const char *why)
{
	uint32_t	 i;
	int		 rc = 0;

	for (i = 0; i < nvips; i++)
		if (vips[i].bound && vip_drop(&vips[i], epoch, why) == -1)
			rc = -1;
	timer_stop(&timers, T_DROP);
	timer_stop(&timers, T_GARP);
	timer_stop(&timers, T_PROBE);
	binding = 0;
	epoch = -1;
	return (rc);
}

/* t0 + L - M on netd's own timer: drop, and say so with the reason. */
static void
deadline_drop(void)
{
	struct vip_dropped_msg	 o;

	memset(&o, 0, sizeof(o));
	o.epoch = epoch;
	o.ok = drop_all("lease deadline t0 + L - M") == 0;
	strlcpy(o.reason, "lease deadline t0 + L - M", sizeof(o.reason));
	send_main(IMSG_VIP_DROPPED, &o, sizeof(o));
}

static void
bound_reply(int ok, uint32_t src, const char *fmt, ...)
    __attribute__((__format__ (printf, 3, 4)));

/* The answer to IMSG_VIP_BIND; a refusal names its FAULT_* source. */
static void
bound_reply(int ok, uint32_t src, const char *fmt, ...)
{
	struct vip_bound_msg	 o;
	va_list			 ap;

	memset(&o, 0, sizeof(o));
	o.ok = ok;
	o.source = src;
	o.epoch = epoch;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(o.reason, sizeof(o.reason), fmt, ap);
		va_end(ap);
	}
	send_main(IMSG_VIP_BOUND, &o, sizeof(o));
}

/* The probes had their time: bind every VIP, or report the conflict. */
static void
bind_all(void)
{
	char		 mac[32], a[ADDR_STRLEN];
	int64_t		 e = epoch;
	uint32_t	 i;

	binding = 0;
	for (i = 0; i < nvips; i++) {
		if (vips[i].c.addr.af != AF_INET || !nconf.probe ||
		    !arp_conflict(&vips[i], mac, sizeof(mac)))
			continue;
		addr_str(&vips[i].c.addr, a, sizeof(a));
		log_warnx("address conflict: %s is already at %s on %s", a,
		    mac, vips[i].c.ifname);
		/* the reply names the epoch it answers */
		bound_reply(0, FAULT_CONFLICT, "address conflict: %s is at %s",
		    a, mac);
		epoch = -1;
		return;
	}
	if (timer_now() >= t0 + nconf.timing.dead - nconf.timing.margin) {
		bound_reply(0, FAULT_VIP, "lease deadline passed before the "
		    "bind");
		epoch = -1;
		return;
	}
	for (i = 0; i < nvips; i++) {
		if (vip_bind(&vips[i], e, t0) == -1) {
			drop_all("a bind failed");
			epoch = e;
			bound_reply(0, FAULT_VIP, "cannot bind %s on %s",
			    addr_str(&vips[i].c.addr, a, sizeof(a)),
			    vips[i].c.ifname);
			epoch = -1;
			return;
		}
	}
	timer_set_at(&timers, T_DROP, t0 + nconf.timing.dead -
	    nconf.timing.margin);
	garp_left = nconf.garp_count;
	if (garp_left > 0 || nconf.garp_refresh)
		timer_set(&timers, T_GARP, 0);
	bound_reply(1, FAULT_VIP, NULL);
}

static void
announce(void)
{
	uint32_t	 i;

	for (i = 0; i < nvips; i++)
		arp_announce(&vips[i]);
	if (garp_left > 0)
		garp_left--;
	if (garp_left > 0)
		timer_set(&timers, T_GARP, nconf.garp_interval);
	else if (nconf.garp_refresh)
		timer_set(&timers, T_GARP, nconf.garp_refresh);
}

void
netd_main(int debug, int verbose)
{
	struct pollfd	 pfd[4];
	int		 n;

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
		proc_pollfd(&pfd[0], &ibuf_main);
		pfd[1].fd = timers.fd;
		pfd[1].events = POLLIN;
		n = 2;
		if (conf_state == 2) {
			pfd[2].fd = arp_fd();
			pfd[2].events = POLLIN;
			pfd[3].fd = link_fd();
			pfd[3].events = POLLIN;
			n = 4;
		}
		if (poll(pfd, n, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		/* the lease's deadline first */
		if (pfd[1].revents & POLLIN) {
			timer_ack(&timers);
			if (timer_due(&timers, T_DROP))
				deadline_drop();
			if (timer_due(&timers, T_PROBE))
				bind_all();
			if (timer_due(&timers, T_GARP))
				announce();
		}
		if (n == 4 && pfd[2].revents & POLLIN)
			arp_input();
		if (n == 4 && pfd[3].revents & POLLIN)
			link_input();
		proc_pollio(&pfd[0], &ibuf_main, netd_dispatch);
	}
}

static void
netd_dispatch(void)
{
	struct imsg		 imsg;
	struct conf_vip_msg	 vm;
	struct vip_bind_msg	 vb;
	struct vip_extend_msg	 ve;
	struct vip_extended_msg	 vx;
	struct vip_drop_msg	 vd;
	struct vip_dropped_msg	 o;
	char			 a[ADDR_STRLEN];
	ssize_t			 n;
	uint32_t		 i;
	int			 probing;

	switch (imsgbuf_read(&ibuf_main)) {
	case -1:
		fatal("read from monitor");
	case 0:
		/* at exit no VIP of the configuration stays here */
		if (conf_state == 2)
			vip_drop_stale();
		exit(0);
	}
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
			    vm.prefixlen > (vm.addr.af == AF_INET ? 32 : 128) ||
			    !STR_OK(vm.ifname) || !STR_OK(vm.label))
				fatalx("bad IMSG_CONF_VIP");
			vips[nvips++].c = vm;
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || nvips != nconf.nvips ||
			    imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			vip_init();
			arp_init();
			link_init();
			for (i = 0; i < nvips; i++)
				if (vip_ifindex(&vips[i]) == -1)
					log_warnx("no interface %s (yet)",
					    vips[i].c.ifname);
			/* at start no VIP of the configuration stays here */
			vip_drop_stale();
			conf_state = 2;
			log_debug("configuration: %u vips", nvips);
			send_main(IMSG_READY, NULL, 0);
			break;
		case IMSG_VIP_BIND:
			if (conf_state != 2 || imsg_get_data(&imsg, &vb,
			    sizeof(vb)) == -1 || vb.epoch < 0)
				fatalx("bad IMSG_VIP_BIND");
			if (epoch >= 0)
				drop_all("a new epoch");
			epoch = vb.epoch;
			t0 = vb.t0;
			probing = 0;
			for (i = 0; i < nvips; i++) {
				if (vips[i].c.addr.af != AF_INET ||
				    !nconf.probe)
					continue;
				if (vips[i].ifindex == 0 &&
				    vip_ifindex(&vips[i]) == -1)
					continue;
				arp_probe(&vips[i]);
				probing = 1;
			}
			if (probing) {
				binding = 1;
				timer_set(&timers, T_PROBE, nconf.probe_wait);
			} else
				bind_all();
			break;
		case IMSG_VIP_EXTEND:
			if (conf_state != 2 || imsg_get_data(&imsg, &ve,
			    sizeof(ve)) == -1)
				fatalx("bad IMSG_VIP_EXTEND");
			/* an extension of a lease already dropped is refused */
			if (ve.epoch != epoch || binding || ve.t0 < t0)
				break;
			t0 = ve.t0;
			timer_set_at(&timers, T_DROP, t0 +
			    nconf.timing.dead - nconf.timing.margin);
			/* confirmed only while every VIP is bound */
			for (i = 0; i < nvips; i++)
				if (vip_refresh(&vips[i], t0) == -1)
					break;
			if (i < nvips) {
				addr_str(&vips[i].c.addr, a, sizeof(a));
				log_warnx("extension refused: %s is not bound "
				    "on %s", a, vips[i].c.ifname);
				netd_fault(FAULT_VIP, "%s lost from %s while "
				    "the lease is held", a, vips[i].c.ifname);
				break;
			}
			vx.epoch = epoch;
			vx.t0 = t0;
			send_main(IMSG_VIP_EXTENDED, &vx, sizeof(vx));
			break;
		case IMSG_VIP_DROP:
			if (conf_state != 2 || imsg_get_data(&imsg, &vd,
			    sizeof(vd)) == -1)
				fatalx("bad IMSG_VIP_DROP");
			memset(&o, 0, sizeof(o));
			o.epoch = vd.epoch;
			o.ok = drop_all("demotion") == 0;
			send_main(IMSG_VIP_DROPPED, &o, sizeof(o));
			break;
		case IMSG_LOG_VERBOSE:
			proc_log_verbose(&imsg);
			break;
		case IMSG_PING:
			proc_pong(&imsg, &ibuf_main);
			break;
		default:
			fatalx("unexpected message %u", imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
}
