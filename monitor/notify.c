/*
 * systemd's notification protocol, spoken by the monitor itself (no
 * libsystemd): one datagram per state to $NOTIFY_SOCKET.  READY=1 once
 * every child is up and the control socket answers; STATUS= on every
 * change of role or epoch; STOPPING=1 at shutdown; and, when the unit
 * sets WatchdogSec, WATCHDOG=1 only while every child has answered the
 * last ping: a stalled child stops the keep-alives, and systemd restarts
 * the service.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "log.h"
#include "monitor.h"
#include "timer.h"

static int			 notify_fd = -1;
static struct sockaddr_un	 notify_addr;
static socklen_t		 notify_len;
static uint64_t			 wd_interval;	/* ms between pings, 0: none */
static struct timers		*wd_timers;
static unsigned int		 wd_tm;
static uint32_t			 wd_seq;
static uint32_t			 wd_sent[PROC_MAX];	/* 0: none yet */
static uint32_t			 wd_answered[PROC_MAX];
static int			 wd_silent[PROC_MAX];
static uint64_t			 wd_busy[PROC_MAX];	/* since, 0: not */
#define WD_BUSY_MAX	(30 * 60 * 1000)	/* ms a child may be busy */
static char			 last_status[256];

/*
 * From the environment, which is then cleared: nothing the monitor
 * starts may talk to systemd in its name.
 */
void
notify_init(struct timers *t, unsigned int id)
{
	const char	*path, *usec, *pid;
	unsigned long long v;
	char		*end;
	size_t		 len;

	wd_timers = t;
	wd_tm = id;
	path = getenv("NOTIFY_SOCKET");
	usec = getenv("WATCHDOG_USEC");
	pid = getenv("WATCHDOG_PID");
	if (path != NULL && (path[0] == '/' || path[0] == '@') &&
	    (len = strlen(path)) < sizeof(notify_addr.sun_path)) {
		memset(&notify_addr, 0, sizeof(notify_addr));
		notify_addr.sun_family = AF_UNIX;
		memcpy(notify_addr.sun_path, path, len);
		if (path[0] == '@')
			notify_addr.sun_path[0] = '\0';	/* abstract */
		notify_len = offsetof(struct sockaddr_un, sun_path) + len;
		if ((notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
		    0)) == -1)
			log_warn("notify socket");
	} else if (path != NULL)
		log_warnx("NOTIFY_SOCKET %s: not a socket path; systemd is "
		    "not told", path);
	if (notify_fd != -1 && usec != NULL && (pid == NULL ||
	    strtoll(pid, NULL, 10) == (long long)getpid())) {
		errno = 0;
		v = strtoull(usec, &end, 10);
		if (errno != 0 || *end != '\0' || v < 3000)
			log_warnx("WATCHDOG_USEC %s: not a time, no watchdog",
			    usec);
		else
			/* three pings within the watchdog's time */
			wd_interval = v / 3000;
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* Outside systemd the monitor becomes a daemon; under it, not. */
int
notify_systemd(void)
{
	return (notify_fd != -1);
}

static void
notify_send(const char *msg)
{
	if (notify_fd == -1)
		return;
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_addr, notify_len) == -1)
		log_debug("notify %s: %s", msg, strerror(errno));
}

void
notify_ready(void)
{
	notify_status();
	notify_send("READY=1");
	if (wd_interval != 0) {
		log_info("systemd watchdog: a ping to every child each %llu "
		    "ms", (unsigned long long)wd_interval);
		notify_watchdog();
	}
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping");
	timer_stop(wd_timers, wd_tm);
}

/* STATUS=, sent when it changed: role, epoch and what is wrong. */
void
notify_status(void)
{
	char	 buf[sizeof(last_status)], epoch[32];

	if (notify_fd == -1)
		return;
	if (mon.epoch < 0)
		strlcpy(epoch, "no epoch yet", sizeof(epoch));
	else
		snprintf(epoch, sizeof(epoch), "epoch %lld",
		    (long long)mon.epoch);
	snprintf(buf, sizeof(buf), "STATUS=%s, %s%s%s%s%s",
	    role_name(mon.role), epoch,
	    mon.holder[0] != '\0' && mon.role != ROLE_ACTIVE ? ", active: " :
	    "", mon.role != ROLE_ACTIVE ? mon.holder : "",
	    mon.db_up ? "" : ", database down",
	    mon.role == ROLE_FAULT && mon.reason[0] != '\0' ? ", fault" : "");
	if (strcmp(buf, last_status) == 0)
		return;
	strlcpy(last_status, buf, sizeof(last_status));
	notify_send(buf);
}

/*
 * The watchdog's tick: WATCHDOG=1 when every running child answered its
 * last ping; then a new ping to each that did (one that did not keeps
 * its one ping outstanding: no queue grows behind a stalled child).
 */
void
notify_watchdog(void)
{
	struct ping_msg	 pm;
	int		 id, all = 1;

	if (wd_interval == 0)
		return;
	for (id = PROC_MONITOR + 1; id < PROC_MAX; id++) {
		if (!monitor_child_running(id))
			continue;
		if (wd_busy[id] != 0 && wd_sent[id] != wd_answered[id]) {
			/* in a long scan: its answer comes after it */
			if (timer_since(timer_now(), wd_busy[id]) < WD_BUSY_MAX)
				continue;
			if (!wd_silent[id])
				log_warnx("%s busy for %d min", proc_name(id),
				    WD_BUSY_MAX / 60000);
		}
		if (wd_sent[id] != 0 && wd_answered[id] != wd_sent[id]) {
			all = 0;
			if (!wd_silent[id]++)
				log_warnx("%s does not answer the watchdog's "
				    "ping: systemd is no longer told all is "
				    "well", proc_name(id));
			continue;
		}
		if (wd_silent[id]) {
			log_notice("%s answers the watchdog's ping again",
			    proc_name(id));
			wd_silent[id] = 0;
		}
		pm.seq = wd_sent[id] = ++wd_seq;
		monitor_compose(id, IMSG_PING, &pm, sizeof(pm));
	}
	if (all)
		notify_send("WATCHDOG=1");
	timer_set(wd_timers, wd_tm, wd_interval);
}

void
notify_busy(int id, int on)
{
	if (id > PROC_MONITOR && id < PROC_MAX)
		wd_busy[id] = on ? timer_now() : 0;
}

void
notify_pong(int id, uint32_t seq)
{
	if (id > PROC_MONITOR && id < PROC_MAX && seq == wd_sent[id])
		wd_answered[id] = seq;
}
