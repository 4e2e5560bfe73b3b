/*
 * Starting the children and dropping their privileges (failoverd(8)).
 */

#ifndef PROC_H
#define PROC_H

#include <sys/types.h>

#include <poll.h>
#include <stdint.h>

#include "failoverd.h"
#include "imsg.h"

#define CAPBIT(c)	(1ULL << (c))

pid_t	 proc_exec(enum proc_id, const char *, int, int, int *);
void	 proc_drop(enum proc_id, const char *, const char *, uint64_t);
int	 proc_byname(const char *);
void	 proc_read(struct imsgbuf *);
void	 proc_write(struct imsgbuf *);
void	 proc_pollfd(struct pollfd *, struct imsgbuf *);
void	 proc_pollio(const struct pollfd *, struct imsgbuf *, void (*)(void));
void	 proc_log_verbose(struct imsg *);
void	 proc_pong(struct imsg *, struct imsgbuf *);
void	 proc_busy(struct imsgbuf *, int);

#endif /* PROC_H */
