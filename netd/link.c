/*
 * netd: watching links and addresses.  The link of a bound VIP going
 * down, or an RTM_DELADDR of a VIP that netd did not cause, is a fault;
 * a link fault clears when the link is back.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "failoverd.h"
#include "log.h"
#include "netd.h"
#include "timer.h"
#include "util.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP	0x10000		/* linux/if.h: carrier is up */
#endif

static struct nl_sock	*watch_sock;
static int		*link_down;	/* per VIP: its link is down */

static void
link_event(struct nlmsghdr *h)
{
	struct ifinfomsg	*ifi;
	uint32_t		 i;
	int			 down;

	ifi = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	down = h->nlmsg_type == RTM_DELLINK ||
	    !(ifi->ifi_flags & IFF_UP) || !(ifi->ifi_flags & IFF_LOWER_UP);
	for (i = 0; i < nvips; i++) {
		struct vip *v = &vips[i];

		if (v->ifindex != ifi->ifi_index)
			continue;
		if (down && !link_down[i]) {
			link_down[i] = 1;
			log_warnx("link %s is down", v->c.ifname);
			if (v->bound)
				netd_fault(FAULT_LINK, "link: %s is down",
				    v->c.ifname);
		} else if (!down && link_down[i]) {
			link_down[i] = 0;
			log_notice("link %s is up again", v->c.ifname);
			netd_fault_clear(FAULT_LINK, "link");
		}
	}
}

static void
addr_event(struct nlmsghdr *h)
{
	struct ifaddrmsg	*ifa;
	struct rtattr		*rta;
	int			 len;
	uint32_t		 i;
	char			 a[ADDR_STRLEN];
	const void		*addr = NULL;

	ifa = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return;
	len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa));
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_LOCAL ||
		    (rta->rta_type == IFA_ADDRESS && addr == NULL))
			addr = RTA_DATA(rta);
	}
	if (addr == NULL)
		return;
	for (i = 0; i < nvips; i++) {
		struct vip *v = &vips[i];

		if (v->c.addr.af != ifa->ifa_family ||
		    (int)ifa->ifa_index != v->ifindex ||
		    memcmp(addr, &v->c.addr.a, v->c.addr.af == AF_INET ?
		    4 : 16) != 0)
			continue;
		if (v->ours_deleting) {
			v->ours_deleting = 0;
			continue;
		}
		if (!v->bound)
			continue;
		/* the kernel ends the lifetime netd set: that is the design */
		if (v->lft != 0 &&
		    timer_now() + 200 >= v->lft_at + v->lft * 1000ULL) {
			log_notice("the kernel dropped %s from %s at the end "
			    "of its lifetime", addr_str(&v->c.addr, a,
			    sizeof(a)), v->c.ifname);
			v->bound = 0;
			v->lft = 0;
			netd_vip_state(v);
			continue;
		}
		log_warnx("%s was deleted from %s by someone else",
		    addr_str(&v->c.addr, a, sizeof(a)), v->c.ifname);
		/* even if a refresh re-created it, it goes */
		vip_drop(v, -1, "deleted by someone else");
		netd_fault(FAULT_VIP, "%s deleted from %s by someone else", a,
		    v->c.ifname);
	}
}

static int
link_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr	*h = nlmsg_hdr(msg);

	(void)arg;
	switch (h->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		link_event(h);
		break;
	case RTM_DELADDR:
		addr_event(h);
		break;
	}
	return (NL_OK);
}

void
link_init(void)
{
	if ((watch_sock = nl_socket_alloc()) == NULL)
		fatalx("nl_socket_alloc");
	nl_socket_disable_seq_check(watch_sock);
	nl_socket_modify_cb(watch_sock, NL_CB_VALID, NL_CB_CUSTOM, link_cb,
	    NULL);
	if (nl_connect(watch_sock, NETLINK_ROUTE) < 0)
		fatalx("nl_connect (watch)");
	if (nl_socket_add_memberships(watch_sock, RTNLGRP_LINK,
	    RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, 0) < 0)
		fatalx("netlink memberships");
	if (nl_socket_set_nonblocking(watch_sock) < 0)
		fatalx("nl_socket_set_nonblocking");
	if (nvips > 0 && (link_down = calloc(nvips, sizeof(int))) == NULL)
		fatal(NULL);
}

int
link_fd(void)
{
	return (nl_socket_get_fd(watch_sock));
}

void
link_input(void)
{
	int	 rc;

	while ((rc = nl_recvmsgs_default(watch_sock)) >= 0)
		;
	if (rc != -NLE_AGAIN && rc != -NLE_BUSY)
		log_warnx("netlink watch: %s", nl_geterror(rc));
}
