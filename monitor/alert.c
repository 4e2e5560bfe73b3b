/*
 * Alerts (failoverd(8), failoverd.conf(5)): always to the log; to each "alert
 * command" as two more arguments, the alert's name and its detail; at
 * most one of a name every ALERT_INTERVAL.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failoverd.h"
#include "log.h"
#include "monitor.h"
#include "timer.h"

#define ALERT_INTERVAL	10000	/* ms between two alerts of one name */
#define ALERT_NAMES	8

static struct {
	char		 name[16];
	uint64_t	 last;
} sent[ALERT_NAMES];

static int
alert_limited(const char *name)
{
	uint64_t	 now = timer_now();
	int		 i, free_slot = -1;

	for (i = 0; i < ALERT_NAMES; i++) {
		if (strcmp(sent[i].name, name) == 0) {
			if (now - sent[i].last < ALERT_INTERVAL)
				return (1);
			sent[i].last = now;
			return (0);
		}
		if (sent[i].name[0] == '\0' && free_slot == -1)
			free_slot = i;
	}
	if (free_slot != -1) {
		strlcpy(sent[free_slot].name, name, sizeof(sent[0].name));
		sent[free_slot].last = now;
	}
	return (0);
}

void
alert(const char *name, const char *fmt, ...)
{
	struct conf_alert	*a;
	struct conf_cmd		 cmd;
	char			 detail[256], *argv[64];
	va_list			 ap;
	int			 n;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_notice("alert %s: %s", name, detail);
	if (alert_limited(name))
		return;
	TAILQ_FOREACH(a, &mon.conf->alerts, entry) {
		if (a->type != ALERT_COMMAND)
			continue;
		for (n = 0; a->cmd.argv[n] != NULL && n < 61; n++)
			argv[n] = a->cmd.argv[n];
		argv[n++] = (char *)name;
		argv[n++] = detail;
		argv[n] = NULL;
		memset(&cmd, 0, sizeof(cmd));
		cmd.argv = argv;
		hooks_run(JOB_ALERT, &cmd, name, mon.epoch, 10000, 0, NULL);
	}
}
