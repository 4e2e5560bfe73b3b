/*
 * heartbeatd: private declarations shared by heartbeatd.c and lease.c.
 */

#ifndef HEARTBEATD_H
#define HEARTBEATD_H

#include <libpq-fe.h>
#include <stdint.h>

#include "failoverd.h"

enum query {
	Q_NONE,
	Q_CHECK,	/* do the tables and the trigger exist? */
	Q_CREATE,	/* create them */
	Q_SESSION,	/* timeouts, synchronous_commit, LISTEN */
	Q_REGISTER,
	Q_POLL,
	Q_RENEW,
	Q_ACQUIRE,
	Q_TAKEOVER,
	Q_RELEASE,
	Q_HANDOVER,
	Q_NODEROLE,
	Q_EVENT,
	Q_HISTORY
};

enum db_state {
	DB_DOWN,
	DB_CONNECTING,
	DB_SETUP,
	DB_READY
};

/* lease.c */
void		 db_init(const char *, uint32_t);
int		 db_fd(void);
short		 db_events(void);
enum db_state	 db_state(void);
int		 db_busy(void);
int		 db_connect(void);
void		 db_io(short);
void		 db_timeout(void);
void		 db_drop(const char *);
int		 db_send(enum query, int, const char * const *);
const char	*db_error(void);
uint64_t	 db_query_deadline(void);
void		 db_ready(void);
int		 db_setup_idle(void);
int		 db_conn_bad(void);

/* heartbeatd.c: called by lease.c */
void		 lease_connected(void);
void		 lease_result(enum query, PGresult *, uint64_t);
void		 lease_db_down(const char *);
void		 lease_notified(void);

#endif /* HEARTBEATD_H */
