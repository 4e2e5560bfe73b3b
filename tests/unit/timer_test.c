/*
 * Unit tests of common/timer.c: deadlines on CLOCK_BOOTTIME behind one
 * timerfd.
 */

#include <poll.h>
#include <unistd.h>

#include "timer.h"
#include "tap.h"

int
main(void)
{
	struct timers	 t;
	struct pollfd	 pfd;
	uint64_t	 start, waited;

	timer_init(&t);
	ok(!timer_running(&t, 0), "a new timer is off");
	timer_set(&t, 3, 200);
	timer_set(&t, 1, 50);
	ok(timer_running(&t, 1) && timer_running(&t, 3), "two timers run");
	ok(!timer_due(&t, 1), "not due at once");
	ok(timer_left(&t, 3) > 100 && timer_left(&t, 3) <= 200,
	    "timer_left within range");
	start = timer_now();
	pfd.fd = t.fd;
	pfd.events = POLLIN;
	ok(poll(&pfd, 1, 5000) == 1, "the timerfd fires");
	waited = timer_now() - start;
	timer_ack(&t);
	ok(waited >= 45, "for the earliest deadline (%llu ms)",
	    (unsigned long long)waited);
	ok(timer_due(&t, 1) && !timer_running(&t, 1), "due once, then off");
	ok(!timer_due(&t, 1), "not due twice");
	ok(!timer_due(&t, 3), "the later timer is not due yet");
	timer_stop(&t, 3);
	ok(poll(&pfd, 1, 300) == 0, "a stopped timer does not fire");
	ok(timer_since(1000, 400) == 600, "timer_since: the time between");
	ok(timer_since(1000, 1001) == 0,
	    "timer_since: a later start is no time ago, not 2^64 ms");
	return (tap_done());
}
