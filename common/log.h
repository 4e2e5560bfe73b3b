/*
 * Logging: syslog (daemon facility) or stderr, every line tagged with the
 * process that wrote it.
 */

#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void	 log_init(int, int);
void	 log_procinit(const char *);
void	 log_setverbose(int);
int	 log_getverbose(void);
void	 log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_notice(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)))
	    __attribute__((__noreturn__));
void	 fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)))
	    __attribute__((__noreturn__));

#endif /* LOG_H */
