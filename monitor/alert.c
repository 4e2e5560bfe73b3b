/*
 * Alerts (failoverd(8), failoverd.conf(5)).  Every alert goes to the log.
 * Of one name, at most one a minute goes on to the senders: each "alert
 * command" (two more arguments, the name and the detail) and each "alert
 * mail" recipient.  What the limit holds back is counted, and the last
 * of it is sent when the minute is over, with the count.
 *
 * Senders run beside the hooks (hooks.c), never in their queue, each
 * killed at ALERT_TIMEOUT.  A mail is spoken by a forked process that
 * drops to _failoverd before it connects: plain SMTP (RFC 5321) to the
 * relay, with a deadline at every step.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "failoverd.h"
#include "log.h"
#include "monitor.h"
#include "timer.h"

#define ALERT_NAMES	24
#define ALERT_DETAIL	256
#define SMTP_LINE	1024

static struct alert_slot {
	char		 name[16];
	uint64_t	 last;		/* when one was last sent */
	uint32_t	 held;		/* held back since */
	int64_t		 held_since;	/* unix ms of the first held back */
	char		 detail[ALERT_DETAIL];	/* the last held back */
	int64_t		 epoch;
	int64_t		 at;		/* unix ms of that one */
} slots[ALERT_NAMES];

static struct timers	*alert_timers;
static unsigned int	 alert_tm;
static uint64_t		 msgid_seq;

void
alert_init(struct timers *t, unsigned int id)
{
	alert_timers = t;
	alert_tm = id;
}

/* What is not printable (a CR, an LF from a peer's error) is a blank. */
static void
clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void
rfc3339_ms(int64_t ms, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = ms / 1000;
	char		 b[32];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", b, (int)(ms % 1000));
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * The message, headers and body, lines ending in CRLF, dot-stuffed,
 * without the final ".".
 */
static char *
mail_compose(const struct conf_alert *a, const char *from, const char *name,
    const char *detail, int64_t epoch, int64_t at, uint32_t held,
    int64_t held_since)
{
	struct fo_conf	*conf = mon.conf;
	char		 date[64], when[40], since[40], extra[256];
	char		 node[NAME_LEN], cluster[NAME_LEN];
	char		*msg;
	struct tm	 tm;
	time_t		 t;
	int64_t		 ms = now_ms();
	int		 n;

	t = ms / 1000;
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	rfc3339_ms(at, when, sizeof(when));
	/* names go into headers: no CR, LF or other control there */
	strlcpy(node, conf->node, sizeof(node));
	strlcpy(cluster, conf->cluster, sizeof(cluster));
	clean(node);
	clean(cluster);
	extra[0] = '\0';
	if (held > 0) {
		rfc3339_ms(held_since, since, sizeof(since));
		snprintf(extra, sizeof(extra), "Held back: %u %s alert%s since "
		    "%s (at most one a minute is sent; the log has every "
		    "one); this is the last of them.\r\n", held, name,
		    held == 1 ? "" : "s", since);
	}
	n = asprintf(&msg,
	    "Date: %s\r\n"
	    "From: <%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: failoverd %s: %s on %s%s\r\n"
	    "Message-ID: <%lld.%ld.%llu@%s>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n"
	    "Alert:   %s\r\n"
	    "Node:    %s\r\n"
	    "Cluster: %s\r\n"
	    "Role:    %s\r\n"
	    "Epoch:   %lld\r\n"
	    "Time:    %s\r\n"
	    "Cause:   %s\r\n"
	    "%s",
	    date, from, a->to, cluster, name, node,
	    held > 0 ? " (and more)" : "",
	    (long long)ms, (long)getpid(), (unsigned long long)++msgid_seq,
	    node,
	    name, node, cluster, role_name(mon.role),
	    (long long)(epoch < 0 ? 0 : epoch), when, detail, extra);
	if (n == -1)
		return (NULL);
	return (msg);
}

/*
 * In the sender: the rest of the time to ALERT_TIMEOUT, less a margin so
 * that it says which step was late before the monitor kills it.
 */
static uint64_t	 smtp_deadline;
static char	 smtp_peer[ADDR_STRLEN + 16];

static int
smtp_wait(int fd, short ev)
{
	struct pollfd	 pfd;
	uint64_t	 now;
	int		 n;

	for (;;) {
		now = timer_now();
		if (now >= smtp_deadline) {
			errno = ETIMEDOUT;
			return (-1);
		}
		pfd.fd = fd;
		pfd.events = ev;
		if ((n = poll(&pfd, 1, smtp_deadline - now)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 1)
			return (0);
	}
}

static int
smtp_write(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if (smtp_wait(fd, POLLOUT) == -1)
			return (-1);
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return (-1);
		}
		buf += n;
		len -= n;
	}
	return (0);
}

/*
 * One reply, multi-line ones too ("250-..." up to "250 ..."): its code,
 * and its last line in line.  -1 on a timeout, a close or garbage.
 */
static int
smtp_reply(int fd, char *line, size_t len)
{
	static char	 buf[4096];
	static size_t	 have;
	char		*nl;
	ssize_t		 n;

	for (;;) {
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t	 l = nl - buf + 1;

			*nl = '\0';
			if (l > 1 && buf[l - 2] == '\r')
				buf[l - 2] = '\0';
			strlcpy(line, buf, len);
			memmove(buf, buf + l, have - l);
			have -= l;
			clean(line);
			if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
			    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
			    line[2] > '9' || (line[3] != '\0' && line[3] != ' ' &&
			    line[3] != '-')) {
				errno = EPROTO;
				return (-1);
			}
			if (line[3] == '-')
				continue;
			return ((line[0] - '0') * 100 + (line[1] - '0') * 10 +
			    (line[2] - '0'));
		}
		if (have == sizeof(buf)) {
			errno = EPROTO;
			return (-1);
		}
		if (smtp_wait(fd, POLLIN) == -1)
			return (-1);
		if ((n = read(fd, buf + have, sizeof(buf) - have)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = ECONNRESET;
			return (-1);
		}
		have += n;
	}
}

/*
 * A command and its reply; want is the first digit of a good reply.
 * On failure, logs the step and what the relay said, and returns -1.
 */
static int
smtp_step(int fd, const char *to, const char *step, const char *cmd,
    int want)
{
	char	 line[SMTP_LINE];
	int	 code;

	if (cmd != NULL && smtp_write(fd, cmd, strlen(cmd)) == -1) {
		log_warnx("alert mail to %s via %s: %s: %s", to, smtp_peer,
		    step, errno == ETIMEDOUT ? "timed out" : strerror(errno));
		return (-1);
	}
	if ((code = smtp_reply(fd, line, sizeof(line))) == -1) {
		log_warnx("alert mail to %s via %s: %s: %s", to, smtp_peer,
		    step, errno == ETIMEDOUT ? "no answer in time" :
		    errno == EPROTO ? "not an SMTP answer" : strerror(errno));
		return (-1);
	}
	if (code / 100 != want) {
		log_warnx("alert mail to %s via %s: the relay refused %s: %s",
		    to, smtp_peer, step, line);
		return (-1);
	}
	return (code);
}

struct mail_job {
	struct conf_alert	*a;
	char			*from;
	char			*msg;
};

/* In the forked sender: exit 0 when the relay took the message. */
static int
mail_send(struct mail_job *mj)
{
	struct sockaddr_storage	 ss;
	struct passwd		*pw;
	struct conf_alert	*a = mj->a;
	char			 cmd[SMTP_LINE], host[NAME_LEN + 8];
	char			 line[SMTP_LINE], *p, *q;
	socklen_t		 sl;
	size_t			 len;
	int			 fd, err;

	smtp_deadline = timer_now() + ALERT_TIMEOUT - 500;
	setproctitle("alert mail");
	clean(mon.conf->node);		/* it goes into EHLO */
	/* the monitor's secrets are not this process's business */
	if (mon.conf->database != NULL)
		sodium_memzero(mon.conf->database, strlen(mon.conf->database));
	if (mon.conf->hostname != NULL && mon.conf->hostname->secret != NULL)
		sodium_memzero(mon.conf->hostname->secret,
		    strlen(mon.conf->hostname->secret));
	addr_str(&a->via, host, sizeof(host));
	snprintf(smtp_peer, sizeof(smtp_peer), a->via.af == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", host, a->port);
	if ((pw = getpwnam(FAILOVERD_USER)) == NULL) {
		log_warnx("alert mail to %s: no user %s", a->to,
		    FAILOVERD_USER);
		return (1);
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_warn("alert mail to %s: cannot drop to %s", a->to,
		    FAILOVERD_USER);
		return (1);
	}
	memset(&ss, 0, sizeof(ss));
	if (a->via.af == AF_INET6) {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a->via.a.v6;
		s6->sin6_port = htons(a->port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = a->via.a.v4;
		s4->sin_port = htons(a->port);
		sl = sizeof(*s4);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("alert mail to %s via %s: socket", a->to, smtp_peer);
		return (1);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) == -1 &&
	    errno != EINPROGRESS) {
		log_warn("alert mail to %s via %s: connect", a->to, smtp_peer);
		return (1);
	}
	sl = sizeof(err);
	if (smtp_wait(fd, POLLOUT) == -1 || getsockopt(fd, SOL_SOCKET,
	    SO_ERROR, &err, &sl) == -1 || (err != 0 && (errno = err))) {
		log_warnx("alert mail to %s via %s: connect: %s", a->to,
		    smtp_peer, errno == ETIMEDOUT ? "timed out" :
		    strerror(errno));
		return (1);
	}
	if (smtp_step(fd, a->to, "the greeting", NULL, 2) == -1)
		return (1);
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", mon.conf->node);
	if (smtp_write(fd, cmd, strlen(cmd)) == -1 ||
	    smtp_reply(fd, line, sizeof(line)) / 100 != 2) {
		/* an old relay: HELO */
		snprintf(cmd, sizeof(cmd), "HELO %s\r\n", mon.conf->node);
		if (smtp_step(fd, a->to, "HELO", cmd, 2) == -1)
			return (1);
	}
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", mj->from);
	if (smtp_step(fd, a->to, "MAIL FROM", cmd, 2) == -1)
		return (1);
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", a->to);
	if (smtp_step(fd, a->to, "RCPT TO", cmd, 2) == -1)
		return (1);
	if (smtp_step(fd, a->to, "DATA", "DATA\r\n", 3) == -1)
		return (1);
	/* dot-stuffing: a line that starts with "." gets one more */
	for (p = mj->msg; *p != '\0'; p = q) {
		if ((q = strstr(p, "\r\n")) == NULL)
			q = p + strlen(p);
		else
			q += 2;
		len = q - p;
		if ((*p == '.' && smtp_write(fd, ".", 1) == -1) ||
		    smtp_write(fd, p, len) == -1) {
			log_warnx("alert mail to %s via %s: the message: %s",
			    a->to, smtp_peer, errno == ETIMEDOUT ?
			    "timed out" : strerror(errno));
			return (1);
		}
	}
	if (smtp_step(fd, a->to, "the message", ".\r\n", 2) == -1)
		return (1);
	(void)smtp_step(fd, a->to, "QUIT", "QUIT\r\n", 2);
	close(fd);
	log_info("alert mail to %s via %s: sent", a->to, smtp_peer);
	return (0);
}

static int
mail_run(void *arg)
{
	return (mail_send(arg));
}

static void
mail_free(void *arg)
{
	struct mail_job	*mj = arg;

	free(mj->from);
	free(mj->msg);
	free(mj);
}

/* To the senders, now. */
static void
alert_send(const char *name, const char *detail, int64_t epoch, int64_t at,
    uint32_t held, int64_t held_since)
{
	struct conf_alert	*a;
	struct conf_cmd		 cmd;
	struct mail_job		*mj;
	char			 d[ALERT_DETAIL + 64], who[128], *argv[64];
	int			 n;

	TAILQ_FOREACH(a, &mon.conf->alerts, entry) {
		if (a->type == ALERT_MAIL) {
			if ((mj = calloc(1, sizeof(*mj))) == NULL)
				fatal(NULL);
			mj->a = a;
			if (a->from != NULL ? (mj->from = strdup(a->from)) ==
			    NULL : asprintf(&mj->from, "failoverd@%s",
			    mon.conf->node) == -1)
				fatal(NULL);
			if ((mj->msg = mail_compose(a, mj->from, name, detail,
			    epoch, at, held, held_since)) == NULL)
				fatal(NULL);
			snprintf(who, sizeof(who), "to %s (%s)", a->to, name);
			hooks_beside(JOB_MAIL, who, ALERT_TIMEOUT, mail_run,
			    mail_free, mj);
			continue;
		}
		if (held > 0)
			snprintf(d, sizeof(d), "%s (the last of %u held back "
			    "this minute)", detail, held);
		else
			strlcpy(d, detail, sizeof(d));
		for (n = 0; a->cmd.argv[n] != NULL && n < 61; n++)
			argv[n] = a->cmd.argv[n];
		argv[n++] = (char *)name;
		argv[n++] = d;
		argv[n] = NULL;
		memset(&cmd, 0, sizeof(cmd));
		cmd.argv = argv;
		hooks_alert_cmd(&cmd, name, role_name(mon.role), epoch,
		    ALERT_TIMEOUT);
	}
}

static void
alert_arm(void)
{
	uint64_t	 next = 0;
	int		 i;

	for (i = 0; i < ALERT_NAMES; i++)
		if (slots[i].held > 0 && (next == 0 ||
		    slots[i].last + ALERT_INTERVAL < next))
			next = slots[i].last + ALERT_INTERVAL;
	if (next == 0)
		timer_stop(alert_timers, alert_tm);
	else
		timer_set_at(alert_timers, alert_tm, next);
}

/* The minute of a name is over: what it held back goes out, counted. */
void
alert_timeout(void)
{
	uint64_t	 now = timer_now();
	int		 i;

	for (i = 0; i < ALERT_NAMES; i++) {
		struct alert_slot	*s = &slots[i];

		if (s->held == 0 || now < s->last + ALERT_INTERVAL)
			continue;
		s->last = now;
		/* the one sent is the last held back; all are counted */
		alert_send(s->name, s->detail, s->epoch, s->at, s->held,
		    s->held_since);
		s->held = 0;
	}
	alert_arm();
}

void
alert(const char *name, const char *fmt, ...)
{
	struct alert_slot	*s = NULL;
	char			 detail[ALERT_DETAIL];
	va_list			 ap;
	uint64_t		 now = timer_now();
	int			 i;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	clean(detail);
	log_notice("alert %s: %s", name, detail);
	mon.alerts++;
	for (i = 0; i < ALERT_NAMES; i++) {
		if (strcmp(slots[i].name, name) == 0) {
			s = &slots[i];
			break;
		}
		if (slots[i].name[0] == '\0' && s == NULL)
			s = &slots[i];
	}
	if (s == NULL) {
		/* cannot happen with the names of failoverd(8): send */
		alert_send(name, detail, mon.epoch, now_ms(), 0, 0);
		return;
	}
	if (s->name[0] != '\0' && s->held > 0 &&
	    now - s->last >= ALERT_INTERVAL) {
		/* the minute ended before its timer ran: what it held back
		 * goes first, counted */
		s->last = now;
		alert_send(s->name, s->detail, s->epoch, s->at, s->held,
		    s->held_since);
		s->held = 0;
	}
	if (s->name[0] != '\0' && s->last != 0 &&
	    now - s->last < ALERT_INTERVAL) {
		s->at = now_ms();
		if (s->held++ == 0)
			s->held_since = s->at;
		strlcpy(s->detail, detail, sizeof(s->detail));
		s->epoch = mon.epoch;
		log_info("alert %s: held back (%u this minute)", name,
		    s->held);
		alert_arm();
		return;
	}
	strlcpy(s->name, name, sizeof(s->name));
	s->last = now;
	s->held = 0;
	alert_send(name, detail, mon.epoch, now_ms(), 0, 0);
}
