/*
 * Logging for all processes.  With -d every line goes to stderr, else to
 * syslog; the socket to syslog is opened before any chroot (LOG_NDELAY).
 * Every line is escaped with strvis(3) before it goes out: paths and
 * reasons that come from peers or the file system cannot forge a line
 * of the audit trail (a newline), nor send a terminal control bytes.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#define LIBBSD_OPENBSD_VIS	/* strnvis() as OpenBSD has it */
#include <vis.h>

#include "log.h"

static int		 log_debug_mode;
static int		 log_verbose;
static const char	*log_procname = "monitor";

static void	 vlog(int, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)));
static void	 vfatal(int, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)))
		    __attribute__((__noreturn__));

void
log_init(int debug, int verbose)
{
	log_debug_mode = debug;
	log_verbose = verbose;
	if (!debug)
		openlog("failoverd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_procinit(const char *name)
{
	if (name != NULL)
		log_procname = name;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[1024], vis[4 * sizeof(msg) + 1];
	int	 saved_errno = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	strvis(vis, msg, VIS_OCTAL | VIS_CSTYLE | VIS_TAB | VIS_NL);
	if (log_debug_mode)
		fprintf(stderr, "%s: %s\n", log_procname, vis);
	else
		syslog(pri, "%s: %s", log_procname, vis);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(e));
	errno = e;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1 && log_debug_mode == 0)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

static void
vfatal(int code, const char *fmt, va_list ap)
{
	char	 buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (code)
		log_warnx("fatal: %s: %s", buf, strerror(code));
	else
		log_warnx("fatal: %s", buf);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	vfatal(e, fmt, ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfatal(0, fmt, ap);
}
