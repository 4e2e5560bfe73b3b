/*
 * Confinement of the children: a seccomp allow-list per process, and
 * Landlock for syncd's directories.
 */

#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>

#include "failoverd.h"

void	 sandbox_seccomp(enum proc_id);
int	 sandbox_landlock(const int *, size_t);

#endif /* SANDBOX_H */
