/*
 * heartbeatd: the order of the nodes, for the lease's state machine
 * (lease.c, lease_ctl.c): higher priority first, then the smaller name.
 * A standby waits its rank's share of the dead interval before it takes
 * over, and a handover goes to the live standby that ranks first.
 */

#include <sys/types.h>

#include <string.h>

#include "failoverd.h"
#include "lease.h"

/* A node of the configuration, by name. */
struct conf_peer *
rank_node(struct lease *l, const char *name)
{
	int	 i;

	for (i = 0; i < l->nnodes; i++)
		if (strcmp(l->nodes[i].name, name) == 0)
			return (&l->nodes[i]);
	return (NULL);
}

/* Does a rank before b: higher priority, then the smaller name. */
int
rank_before(const struct conf_peer *a, const struct conf_peer *b)
{
	if (a->priority != b->priority)
		return (a->priority > b->priority);
	return (strcmp(a->name, b->name) < 0);
}

/* This node's rank among the nodes other than skip (the holder). */
int
rank_of(struct lease *l, const char *skip)
{
	struct conf_peer	*me = rank_node(l, l->conf.node);
	int			 i, r = 0;

	for (i = 0; me != NULL && i < l->nnodes; i++)
		if (&l->nodes[i] != me && (skip == NULL ||
		    strcmp(l->nodes[i].name, skip) != 0) &&
		    rank_before(&l->nodes[i], me))
			r++;
	return (r);
}

/* A standby that failover_node shows alive within L. */
int
rank_live_standby(struct lease *l, const char *name)
{
	uint32_t	 i;

	for (i = 0; i < l->nodesm.n; i++)
		if (strcmp(l->nodesm.e[i].node, name) == 0)
			return (l->nodesm.e[i].role == ROLE_STANDBY &&
			    l->nodesm.e[i].seen_ms_ago >= 0 &&
			    l->nodesm.e[i].seen_ms_ago < l->conf.timing.dead &&
			    rank_node(l, name) != NULL);
	return (0);
}

/* The live standby that ranks first: where a handover goes. */
const char *
rank_best_standby(struct lease *l)
{
	struct conf_peer	*best = NULL;
	int			 i;

	for (i = 0; i < l->nnodes; i++) {
		if (strcmp(l->nodes[i].name, l->conf.node) == 0 ||
		    !rank_live_standby(l, l->nodes[i].name))
			continue;
		if (best == NULL || rank_before(&l->nodes[i], best))
			best = &l->nodes[i];
	}
	return (best != NULL ? best->name : NULL);
}
