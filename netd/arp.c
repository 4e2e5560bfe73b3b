/*
 * netd: ARP probe before an IPv4 VIP is bound, and the announcements
 * after: gratuitous ARP (request, or reply with tha = sha) and the
 * unsolicited neighbour advertisement with the override flag for IPv6
 * (failoverd(8), "Virtual IP addresses").  Raw sockets, opened with CAP_NET_RAW.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "log.h"
#include "netd.h"
#include "util.h"

struct arp_pkt {
	uint16_t	 htype;
	uint16_t	 ptype;
	uint8_t		 hlen;
	uint8_t		 plen;
	uint16_t	 op;
	uint8_t		 sha[6];
	uint8_t		 spa[4];
	uint8_t		 tha[6];
	uint8_t		 tpa[4];
} __attribute__((__packed__));

struct na_pkt {
	struct nd_neighbor_advert na;
	uint8_t		 opt_type;
	uint8_t		 opt_len;
	uint8_t		 mac[6];
} __attribute__((__packed__));

static int	 arp_sock = -1;
static int	 icmp6_sock = -1;
static struct {
	int	 probing;
	int	 conflict;
	uint8_t	 mac[6];
} *probe;

void
arp_init(void)
{
	int	 hops = 255;

	if ((arp_sock = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, htons(ETH_P_ARP))) == -1)
		fatal("packet socket");
	if ((icmp6_sock = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC,
	    IPPROTO_ICMPV6)) == -1)
		log_warn("ICMPv6 socket: no neighbour advertisements");
	else if (setsockopt(icmp6_sock, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
	    &hops, sizeof(hops)) == -1 || setsockopt(icmp6_sock,
	    IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) == -1)
		fatal("IPV6 hop limit");
	if (nvips > 0 && (probe = calloc(nvips, sizeof(*probe))) == NULL)
		fatal(NULL);
}

int
arp_fd(void)
{
	return (arp_sock);
}

static void
arp_send(struct vip *v, uint16_t op, int is_probe)
{
	struct sockaddr_ll	 sll;
	struct arp_pkt		 p;
	char			 a[ADDR_STRLEN];

	memset(&p, 0, sizeof(p));
	p.htype = htons(ARPHRD_ETHER);
	p.ptype = htons(ETH_P_IP);
	p.hlen = 6;
	p.plen = 4;
	p.op = htons(op);
	memcpy(p.sha, v->mac, 6);
	if (!is_probe)
		memcpy(p.spa, &v->c.addr.a.v4, 4);
	if (op == ARPOP_REPLY)
		memcpy(p.tha, v->mac, 6);
	memcpy(p.tpa, &v->c.addr.a.v4, 4);

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ARP);
	sll.sll_ifindex = v->ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	if (sendto(arp_sock, &p, sizeof(p), 0, (struct sockaddr *)&sll,
	    sizeof(sll)) == -1)
		log_warn("ARP %s for %s on %s", is_probe ? "probe" :
		    "announcement", addr_str(&v->c.addr, a, sizeof(a)),
		    v->c.ifname);
}

/* One probe: sender address 0.0.0.0, asking who has the VIP. */
void
arp_probe(struct vip *v)
{
	size_t	 i = v - vips;

	probe[i].probing = 1;
	probe[i].conflict = 0;
	arp_send(v, ARPOP_REQUEST, 1);
}

/* After probe wait: 1 and the other's MAC when someone answered. */
int
arp_conflict(struct vip *v, char *mac, size_t len)
{
	size_t	 i = v - vips;

	probe[i].probing = 0;
	if (!probe[i].conflict)
		return (0);
	snprintf(mac, len, "%02x:%02x:%02x:%02x:%02x:%02x", probe[i].mac[0],
	    probe[i].mac[1], probe[i].mac[2], probe[i].mac[3], probe[i].mac[4],
	    probe[i].mac[5]);
	return (1);
}

/* An ARP packet that claims one of our VIPs from another MAC. */
void
arp_input(void)
{
	struct sockaddr_ll	 sll;
	struct arp_pkt		 p;
	socklen_t		 sl;
	ssize_t			 n;
	uint32_t		 i;

	for (;;) {
		sl = sizeof(sll);
		n = recvfrom(arp_sock, &p, sizeof(p), 0,
		    (struct sockaddr *)&sll, &sl);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("packet socket");
			return;
		}
		if ((size_t)n < sizeof(p) || sll.sll_pkttype == PACKET_OUTGOING ||
		    p.htype != htons(ARPHRD_ETHER) || p.ptype != htons(ETH_P_IP) ||
		    p.hlen != 6 || p.plen != 4)
			continue;
		for (i = 0; i < nvips; i++) {
			struct vip *v = &vips[i];

			if (v->c.addr.af != AF_INET ||
			    (int)sll.sll_ifindex != v->ifindex ||
			    memcmp(p.spa, &v->c.addr.a.v4, 4) != 0 ||
			    memcmp(p.sha, v->mac, 6) == 0)
				continue;
			if (probe[i].probing) {
				probe[i].conflict = 1;
				memcpy(probe[i].mac, p.sha, 6);
			}
		}
	}
}

static void
na_send(struct vip *v)
{
	struct sockaddr_in6	 to;
	struct na_pkt		 p;
	char			 a[ADDR_STRLEN];

	if (icmp6_sock == -1)
		return;
	memset(&p, 0, sizeof(p));
	p.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	p.na.nd_na_code = 0;
	p.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	memcpy(&p.na.nd_na_target, &v->c.addr.a.v6, 16);
	p.opt_type = ND_OPT_TARGET_LINKADDR;
	p.opt_len = 1;
	memcpy(p.mac, v->mac, 6);
	memset(&to, 0, sizeof(to));
	to.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	to.sin6_scope_id = v->ifindex;
	if (sendto(icmp6_sock, &p, sizeof(p), 0, (struct sockaddr *)&to,
	    sizeof(to)) == -1)
		log_warn("neighbour advertisement for %s on %s",
		    addr_str(&v->c.addr, a, sizeof(a)), v->c.ifname);
}

void
arp_announce(struct vip *v)
{
	if (!v->bound)
		return;
	if (v->c.addr.af == AF_INET)
		arp_send(v, nconf.garp_type == GARP_REPLY ? ARPOP_REPLY :
		    ARPOP_REQUEST, 0);
	else
		na_send(v);
}
