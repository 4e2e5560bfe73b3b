/*
 * Named deadlines on CLOCK_BOOTTIME (see timer.h).
 */

#include <sys/timerfd.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timer.h"

static void	 timer_rearm(struct timers *);

uint64_t
timer_now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) == -1)
		fatal("clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
timer_init(struct timers *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd == -1)
		fatal("timerfd_create");
}

void
timer_set(struct timers *t, unsigned int id, uint64_t ms)
{
	timer_set_at(t, id, timer_now() + ms);
}

void
timer_set_at(struct timers *t, unsigned int id, uint64_t at)
{
	if (id >= TIMER_MAX)
		fatalx("%s: bad timer %u", __func__, id);
	t->due[id] = at == 0 ? 1 : at;
	timer_rearm(t);
}

void
timer_stop(struct timers *t, unsigned int id)
{
	if (id >= TIMER_MAX)
		fatalx("%s: bad timer %u", __func__, id);
	t->due[id] = 0;
	timer_rearm(t);
}

int
timer_running(struct timers *t, unsigned int id)
{
	return (id < TIMER_MAX && t->due[id] != 0);
}

/* Milliseconds until the deadline, 0 when due or off. */
uint64_t
timer_left(struct timers *t, unsigned int id)
{
	uint64_t	 now = timer_now();

	if (!timer_running(t, id) || t->due[id] <= now)
		return (0);
	return (t->due[id] - now);
}

/*
 * Milliseconds from then to now, 0 when then is later: a time taken at the
 * top of a loop is older than one a callee took since, and the difference
 * of two unsigned times must not wrap into "ages ago".
 */
uint64_t
timer_since(uint64_t now, uint64_t then)
{
	return (now > then ? now - then : 0);
}

/* A due timer is stopped and reported once. */
int
timer_due(struct timers *t, unsigned int id)
{
	if (!timer_running(t, id) || t->due[id] > timer_now())
		return (0);
	timer_stop(t, id);
	return (1);
}

/* Read the expiry count after poll reported the timerfd readable. */
void
timer_ack(struct timers *t)
{
	uint64_t	 n;

	if (read(t->fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		fatal("timerfd read");
	timer_rearm(t);
}

static void
timer_rearm(struct timers *t)
{
	struct itimerspec	 its;
	uint64_t		 next = 0;
	unsigned int		 i;

	for (i = 0; i < TIMER_MAX; i++)
		if (t->due[i] != 0 && (next == 0 || t->due[i] < next))
			next = t->due[i];
	memset(&its, 0, sizeof(its));
	if (next != 0) {
		its.it_value.tv_sec = next / 1000;
		its.it_value.tv_nsec = (next % 1000) * 1000000;
	}
	if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		fatal("timerfd_settime");
}
