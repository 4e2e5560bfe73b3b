/*
 * heartbeatd: what db.c (libpq) and heartbeatd.c (the loop) offer each
 * other.  The state machine has its own header, lease.h.
 */

#ifndef HEARTBEATD_H
#define HEARTBEATD_H

#include <stdint.h>

#include "failoverd.h"

struct lease_stmt;
struct lease_reply;

/* db.c */
void		 db_init(const struct conf_heartbeat *, const char *);
int		 db_fd(void);
short		 db_events(void);
int		 db_idle(void);
int		 db_down(void);
int		 db_connect(uint64_t);
void		 db_io(short, uint64_t);
void		 db_timeout(uint64_t);
void		 db_drop(const char *);
uint64_t	 db_deadline(void);
int		 db_statement(uint64_t, const struct lease_stmt *);
int		 db_history_from(uint64_t, int64_t, int);
int		 db_history_page(uint64_t, int64_t, int);

/* heartbeatd.c: what db.c reports */
void		 heartbeatd_db_ready(void);
void		 heartbeatd_db_down(const char *);
void		 heartbeatd_reply(const struct lease_reply *, uint64_t);
void		 heartbeatd_notified(void);
void		 heartbeatd_history_line(const char *);
void		 heartbeatd_history_from(int, int64_t, int, const char *);
void		 heartbeatd_history_page(int, int, int64_t, const char *);

#endif /* HEARTBEATD_H */
