/*
 * Starting the children and dropping their privileges (failoverd(8)).
 */

#ifndef PROC_H
#define PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "failoverd.h"
#include "imsg.h"

#define CAPBIT(c)	(1ULL << (c))

pid_t	 proc_exec(enum proc_id, const char *, int, int, int *);
void	 proc_drop(enum proc_id, const char *, const char *, uint64_t);
int	 proc_byname(const char *);
void	 proc_read(struct imsgbuf *);
void	 proc_write(struct imsgbuf *);

#endif /* PROC_H */
