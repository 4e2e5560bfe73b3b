/*
 * Named deadlines on CLOCK_BOOTTIME, one small table per process, behind
 * one timerfd that the process polls.  Absolute deadlines on the boot
 * clock keep counting through a suspend.
 */

#ifndef TIMER_H
#define TIMER_H

#include <stdint.h>

#define TIMER_MAX	16

struct timers {
	int		 fd;
	uint64_t	 due[TIMER_MAX];	/* ms on CLOCK_BOOTTIME, 0: off */
};

uint64_t	 timer_now(void);
void		 timer_init(struct timers *);
void		 timer_set(struct timers *, unsigned int, uint64_t);
void		 timer_set_at(struct timers *, unsigned int, uint64_t);
void		 timer_stop(struct timers *, unsigned int);
int		 timer_running(struct timers *, unsigned int);
uint64_t	 timer_left(struct timers *, unsigned int);
uint64_t	 timer_since(uint64_t, uint64_t);
int		 timer_due(struct timers *, unsigned int);
void		 timer_ack(struct timers *);

#endif /* TIMER_H */
