/*
 * netd: private declarations shared by netd.c, vip.c, arp.c and link.c.
 */

#ifndef NETD_H
#define NETD_H

#include <stdint.h>

#include "failoverd.h"

struct vip {
	struct conf_vip_msg	 c;		/* from the configuration */
	int			 ifindex;
	int			 bound;
	int			 ours_deleting;	/* an RTM_DELADDR we cause */
	uint32_t		 lft;		/* seconds last set, 0: none */
	uint64_t		 lft_at;	/* when it was set */
	uint8_t			 mac[6];	/* the interface's */
};

extern struct vip	*vips;
extern uint32_t		 nvips;
extern struct conf_net	 nconf;

/* netd.c */
void		 netd_fault(enum fault_source, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 netd_fault_clear(enum fault_source, const char *);
void		 netd_vip_state(struct vip *);

/* vip.c */
void		 vip_init(void);
int		 vip_bind(struct vip *, int64_t, uint64_t);
int		 vip_refresh(struct vip *, uint64_t);
int		 vip_drop(struct vip *, int64_t, const char *);
void		 vip_drop_stale(void);
int		 vip_ifindex(struct vip *);

/* arp.c */
void		 arp_init(void);
int		 arp_fd(void);
void		 arp_probe(struct vip *);
void		 arp_input(void);
int		 arp_conflict(struct vip *, char *, size_t);
void		 arp_announce(struct vip *);

/* link.c */
void		 link_init(void);
int		 link_fd(void);
void		 link_input(void);

#endif /* NETD_H */
