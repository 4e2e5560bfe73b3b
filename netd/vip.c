/*
 * netd: binding and dropping the virtual IPs with libnl-route-3
 * (failoverd(8), "Virtual IP addresses").  Only the VIPs of netd's own
 * configuration; every act is logged at notice level with the epoch.
 *
 * The address carries the lease: its kernel lifetime ends at
 * t0 + L - 1 s, so if every failoverd process dies the kernel itself
 * drops it before a standby may take over.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <net/if.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>

#include "failoverd.h"
#include "log.h"
#include "netd.h"
#include "timer.h"
#include "util.h"

#define INFINITE_LFT	0xffffffffU

static struct nl_sock	*route_sock;

void
vip_init(void)
{
	if ((route_sock = nl_socket_alloc()) == NULL)
		fatalx("nl_socket_alloc");
	if (nl_connect(route_sock, NETLINK_ROUTE) < 0)
		fatalx("nl_connect NETLINK_ROUTE");
}

/* The interface is looked up by the name of the configuration only. */
int
vip_ifindex(struct vip *v)
{
	struct ifreq	 ifr;
	int		 s;

	v->ifindex = if_nametoindex(v->c.ifname);
	if (v->ifindex == 0)
		return (-1);
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, v->c.ifname, sizeof(ifr.ifr_name));
	if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(v->mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
	return (0);
}

static struct rtnl_addr *
vip_addr(struct vip *v)
{
	struct rtnl_addr	*ra;
	struct nl_addr		*na;

	if ((ra = rtnl_addr_alloc()) == NULL)
		fatalx("rtnl_addr_alloc");
	na = nl_addr_build(v->c.addr.af, &v->c.addr.a,
	    v->c.addr.af == AF_INET ? 4 : 16);
	if (na == NULL)
		fatalx("nl_addr_build");
	nl_addr_set_prefixlen(na, v->c.prefixlen);
	rtnl_addr_set_family(ra, v->c.addr.af);
	rtnl_addr_set_ifindex(ra, v->ifindex);
	rtnl_addr_set_prefixlen(ra, v->c.prefixlen);
	if (rtnl_addr_set_local(ra, na) < 0)
		fatalx("rtnl_addr_set_local");
	nl_addr_put(na);
	return (ra);
}

/* floor(t0 + L - 1 s - now) seconds, or none when less than 1. */
static uint32_t
vip_lifetime(uint64_t t0)
{
	uint64_t	 end = t0 + nconf.timing.dead, now = timer_now();

	if (end < 1000 || end - 1000 <= now + 1000)
		return (0);
	return ((end - 1000 - now) / 1000);
}

static int
vip_set(struct vip *v, uint64_t t0, int flags)
{
	struct rtnl_addr	*ra;
	uint32_t		 lft = vip_lifetime(t0);
	unsigned int		 f = 0;
	int			 rc;

	ra = vip_addr(v);
	if (v->c.addr.af == AF_INET) {
		if (v->c.label[0] != '\0')
			rtnl_addr_set_label(ra, v->c.label);
		if (v->c.prefixlen == 32)
			f |= IFA_F_NOPREFIXROUTE;
	} else
		f |= IFA_F_NODAD;
	rtnl_addr_set_flags(ra, f);
	rtnl_addr_set_valid_lifetime(ra, lft ? lft : INFINITE_LFT);
	rtnl_addr_set_preferred_lifetime(ra, lft ? lft : INFINITE_LFT);
	rc = rtnl_addr_add(route_sock, ra, flags);
	rtnl_addr_put(ra);
	if (rc == 0) {
		v->lft = lft;
		v->lft_at = timer_now();
	}
	return (rc);
}

int
vip_bind(struct vip *v, int64_t epoch, uint64_t t0)
{
	char	 a[ADDR_STRLEN];
	int	 rc;

	addr_str(&v->c.addr, a, sizeof(a));
	if (vip_ifindex(v) == -1) {
		log_warnx("cannot bind %s/%u: no interface %s", a,
		    v->c.prefixlen, v->c.ifname);
		return (-1);
	}
	rc = vip_set(v, t0, NLM_F_CREATE | NLM_F_EXCL);
	if (rc == -NLE_EXIST) {
		log_warnx("%s/%u was already on %s: taking it over", a,
		    v->c.prefixlen, v->c.ifname);
		rc = vip_set(v, t0, NLM_F_REPLACE);
	}
	if (rc < 0) {
		log_warnx("cannot bind %s/%u on %s: %s", a, v->c.prefixlen,
		    v->c.ifname, nl_geterror(rc));
		return (-1);
	}
	v->bound = 1;
	if (v->lft)
		log_notice("bound %s/%u on %s (epoch %lld, lifetime %us)", a,
		    v->c.prefixlen, v->c.ifname, (long long)epoch, v->lft);
	else
		log_notice("bound %s/%u on %s (epoch %lld, no kernel "
		    "lifetime: L is too short)", a, v->c.prefixlen,
		    v->c.ifname, (long long)epoch);
	netd_vip_state(v);
	return (0);
}

/*
 * Set the kernel lifetime again from the new t0, at every extension, so
 * it can lapse only after the lease deadline passed without a renewal
 * (and a VIP bound with none gets one).  -1 when the VIP is not bound.
 */
int
vip_refresh(struct vip *v, uint64_t t0)
{
	char		 a[ADDR_STRLEN];
	int		 rc;

	if (!v->bound)
		return (-1);
	/* less than 2 s left: keep the kernel's end, never make it none */
	if (v->lft != 0 && vip_lifetime(t0) == 0)
		return (0);
	if ((rc = vip_set(v, t0, NLM_F_REPLACE)) < 0) {
		log_warnx("refresh of %s: %s", addr_str(&v->c.addr, a,
		    sizeof(a)), nl_geterror(rc));
		return (-1);
	}
	log_debug("refreshed %s: lifetime %us", addr_str(&v->c.addr, a,
	    sizeof(a)), v->lft);
	return (0);
}

int
vip_drop(struct vip *v, int64_t epoch, const char *why)
{
	struct rtnl_addr	*ra;
	char			 a[ADDR_STRLEN];
	int			 rc;

	if (v->ifindex == 0 && vip_ifindex(v) == -1)
		return (0);
	ra = vip_addr(v);
	v->ours_deleting = 1;
	rc = rtnl_addr_delete(route_sock, ra, 0);
	rtnl_addr_put(ra);
	addr_str(&v->c.addr, a, sizeof(a));
	if (rc < 0 && rc != -NLE_NOADDR && rc != -NLE_OBJ_NOTFOUND &&
	    rc != -NLE_NODEV) {
		v->ours_deleting = 0;
		log_warnx("cannot drop %s/%u from %s: %s", a, v->c.prefixlen,
		    v->c.ifname, nl_geterror(rc));
		return (-1);
	}
	if (rc == 0)
		log_notice("dropped %s/%u from %s (epoch %lld): %s", a,
		    v->c.prefixlen, v->c.ifname, (long long)epoch, why);
	else
		v->ours_deleting = 0;
	if (v->bound) {
		v->bound = 0;
		netd_vip_state(v);
	}
	v->lft = 0;
	return (0);
}

/* At start and at exit: no VIP of the configuration stays here. */
void
vip_drop_stale(void)
{
	uint32_t	 i;

	for (i = 0; i < nvips; i++) {
		vips[i].bound = 0;
		vip_drop(&vips[i], -1, "not the active node");
	}
}
