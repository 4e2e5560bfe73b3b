/*
 * heartbeatd: the SQL of the lease (DESIGN.md section 4) and the
 * connection to PostgreSQL, in libpq's non-blocking mode only.  One
 * statement is in flight at a time and each has its own deadline; a
 * connection that misses it is dropped, and heartbeatd re-opens it.
 */

#include <sys/types.h>

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failoverd.h"
#include "heartbeatd.h"
#include "log.h"
#include "timer.h"

#include "schema.h"	/* generated from heartbeatd/schema.sql */

static const char *statements[] = {
	[Q_CHECK] =
	    "SELECT to_regclass('failover_lease') IS NOT NULL"
	    " AND to_regclass('failover_node') IS NOT NULL"
	    " AND to_regclass('failover_event') IS NOT NULL"
	    " AND EXISTS (SELECT 1 FROM pg_trigger"
	    "  WHERE tgname = 'failover_lease_notify' AND NOT tgisinternal)",
	/* Q_CREATE and Q_SESSION are built at run time */
	[Q_REGISTER] =
	    "WITH l AS (INSERT INTO failover_lease (cluster, lease_ms)"
	    "  VALUES ($1, $2::integer) ON CONFLICT DO NOTHING)"
	    " INSERT INTO failover_node AS n (cluster, node, role, token,"
	    "  seen_at) VALUES ($1, $3, $4, $5::uuid, clock_timestamp())"
	    " ON CONFLICT (cluster, node) DO UPDATE SET"
	    "  role = CASE WHEN n.role = 'maintenance' THEN 'maintenance'"
	    "   ELSE EXCLUDED.role END,"
	    "  token = EXCLUDED.token, seen_at = EXCLUDED.seen_at"
	    " RETURNING role",
	/* the row, and this node's failover_node row touched on the way */
	[Q_POLL] =
	    "WITH me AS (UPDATE failover_node SET role = $3,"
	    "  seen_at = clock_timestamp(), beat = beat + 1"
	    "  WHERE cluster = $1 AND node = $2 AND token = $4::uuid)"
	    " SELECT l.holder, l.token, l.epoch, l.beat, l.handover_to,"
	    "  l.lease_ms, (SELECT string_agg(n.node || ' ' || n.role || ' '"
	    "   || coalesce((extract(epoch FROM clock_timestamp() - n.seen_at)"
	    "   * 1000)::bigint, -1), ',' ORDER BY n.node)"
	    "   FROM failover_node n WHERE n.cluster = $1)"
	    " FROM failover_lease l WHERE l.cluster = $1",
	[Q_RENEW] =
	    "UPDATE failover_lease SET beat = beat + 1, lease_ms = $4::integer,"
	    "  changed_at = clock_timestamp()"
	    " WHERE cluster = $1 AND holder = $2 AND token = $3::uuid"
	    "  AND epoch = $5::bigint"
	    "  AND changed_at > clock_timestamp() - $6::integer * interval '1 ms'"
	    " RETURNING beat, handover_to",
	/* handover_to lapses when the row has not changed for L */
	[Q_ACQUIRE] =
	    "WITH u AS (UPDATE failover_lease SET holder = $2,"
	    "  token = $3::uuid, epoch = epoch + 1, beat = 0,"
	    "  handover_to = NULL, lease_ms = $4::integer,"
	    "  changed_at = clock_timestamp()"
	    "  WHERE cluster = $1 AND holder IS NULL AND epoch = $5::bigint"
	    "  AND (handover_to IS NULL OR handover_to = $2 OR changed_at <"
	    "   clock_timestamp() - $4::integer * interval '1 ms')"
	    "  RETURNING epoch),"
	    " e AS (INSERT INTO failover_event (cluster, node, epoch, event,"
	    "  detail) SELECT $1, $2, epoch, 'acquire', $6 FROM u)"
	    " SELECT epoch FROM u",
	[Q_TAKEOVER] =
	    "WITH u AS (UPDATE failover_lease SET holder = $2,"
	    "  token = $3::uuid, epoch = epoch + 1, beat = 0,"
	    "  handover_to = NULL, lease_ms = $4::integer,"
	    "  changed_at = clock_timestamp()"
	    "  WHERE cluster = $1 AND epoch = $5::bigint AND beat = $6::bigint"
	    "  RETURNING epoch),"
	    " e AS (INSERT INTO failover_event (cluster, node, epoch, event,"
	    "  detail) SELECT $1, $2, epoch, 'takeover', 'from ' || $7 FROM u)"
	    " SELECT epoch FROM u",
	/* a planned release names the node the lease is handed to */
	[Q_RELEASE] =
	    "WITH u AS (UPDATE failover_lease SET holder = NULL, token = NULL,"
	    "  beat = beat + 1, handover_to = NULLIF($5, ''),"
	    "  changed_at = clock_timestamp()"
	    "  WHERE cluster = $1 AND holder = $2 AND token = $3::uuid"
	    "  AND epoch = $4::bigint RETURNING epoch),"
	    " e AS (INSERT INTO failover_event (cluster, node, epoch, event,"
	    "  detail) SELECT $1, $2, epoch, 'release', $6 FROM u)"
	    " SELECT epoch FROM u",
	/* a switchover asked for on any node: the active sees it */
	[Q_HANDOVER] =
	    "WITH u AS (UPDATE failover_lease SET handover_to = $2"
	    "  WHERE cluster = $1 AND holder IS NOT NULL AND holder <> $2"
	    "  RETURNING holder, epoch),"
	    " e AS (INSERT INTO failover_event (cluster, node, epoch, event,"
	    "  detail) SELECT $1, $3, epoch, 'switchover', 'to ' || $2 ||"
	    "  ' asked on ' || $3 FROM u)"
	    " SELECT holder, epoch FROM u",
	[Q_NODEROLE] =
	    "UPDATE failover_node SET role = $3, seen_at = clock_timestamp()"
	    " WHERE cluster = $1 AND node = $2 AND token = $4::uuid",
	[Q_EVENT] =
	    "INSERT INTO failover_event (cluster, node, epoch, event, detail)"
	    " VALUES ($1, $2, NULLIF($3, '')::bigint, $4, NULLIF($5, ''))",
	[Q_HISTORY] =
	    "SELECT to_char(at AT TIME ZONE 'UTC',"
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), coalesce(node, '-'),"
	    "  event, coalesce(epoch::text, '-'), coalesce(detail, '')"
	    " FROM (SELECT * FROM failover_event WHERE cluster = $1"
	    "  ORDER BY id DESC LIMIT $2::integer) h ORDER BY id",
};

static const char *query_names[] = {
	[Q_NONE] = "none", [Q_CHECK] = "schema check",
	[Q_CREATE] = "schema creation", [Q_SESSION] = "session setup",
	[Q_REGISTER] = "register", [Q_POLL] = "poll", [Q_RENEW] = "renew",
	[Q_ACQUIRE] = "acquire", [Q_TAKEOVER] = "takeover",
	[Q_RELEASE] = "release", [Q_HANDOVER] = "handover",
	[Q_NODEROLE] = "node role", [Q_EVENT] = "event",
	[Q_HISTORY] = "history",
};

static struct {
	PGconn		*conn;
	enum db_state	 state;
	enum query	 q;		/* in flight */
	PGresult	*res;		/* the first result of q */
	uint64_t	 sent_at;
	uint64_t	 deadline;
	int		 want_write;
	int		 polling;	/* PQconnectPoll wants: 1 read, 2 write */
	char		 conninfo[CONNINFO_LEN];
	uint32_t	 timeout;
	char		 error[FAULT_LEN];
} db;

void
db_init(const char *conninfo, uint32_t timeout)
{
	memset(&db, 0, sizeof(db));
	strlcpy(db.conninfo, conninfo, sizeof(db.conninfo));
	db.timeout = timeout;
}

int
db_fd(void)
{
	if (db.conn == NULL)
		return (-1);
	return (PQsocket(db.conn));
}

short
db_events(void)
{
	if (db.conn == NULL)
		return (0);
	if (db.state == DB_CONNECTING)
		return (db.polling == 2 ? POLLOUT : POLLIN);
	return (POLLIN | (db.want_write ? POLLOUT : 0));
}

enum db_state
db_state(void)
{
	return (db.state);
}

int
db_busy(void)
{
	return (db.q != Q_NONE || db.state == DB_CONNECTING ||
	    db.state == DB_DOWN);
}

const char *
db_error(void)
{
	return (db.error);
}

/* The schema and the session are set up: statements may go. */
void
db_ready(void)
{
	if (db.state == DB_SETUP)
		db.state = DB_READY;
}

/* The connection is up but not ready: setup statements only. */
int
db_setup_idle(void)
{
	return (db.state == DB_SETUP && db.q == Q_NONE);
}

int
db_conn_bad(void)
{
	return (db.conn == NULL || PQstatus(db.conn) == CONNECTION_BAD);
}

/* The deadline of what is in flight, 0 when nothing is. */
uint64_t
db_query_deadline(void)
{
	if (db.state == DB_CONNECTING || db.q != Q_NONE)
		return (db.deadline);
	return (0);
}

static void
db_seterror(const char *what)
{
	char	*nl;

	strlcpy(db.error, what, sizeof(db.error));
	if ((nl = strchr(db.error, '\n')) != NULL)
		*nl = '\0';
}

void
db_drop(const char *why)
{
	if (db.conn == NULL && db.state == DB_DOWN)
		return;
	db_seterror(why);
	if (db.res != NULL) {
		PQclear(db.res);
		db.res = NULL;
	}
	if (db.conn != NULL) {
		PQfinish(db.conn);
		db.conn = NULL;
	}
	db.q = Q_NONE;
	db.state = DB_DOWN;
	db.want_write = 0;
	lease_db_down(db.error);
}

/* The server's notices go to the log, not to stderr. */
static void
db_notice(void *arg, const char *msg)
{
	char	 buf[FAULT_LEN];

	(void)arg;
	strlcpy(buf, msg, sizeof(buf));
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("database: %s", buf);
}

/* Start a connection; it completes in db_io(). */
int
db_connect(void)
{
	const char	*keys[] = { "dbname", NULL };
	const char	*vals[] = { db.conninfo, NULL };

	if (db.conn != NULL)
		return (0);
	db.conn = PQconnectStartParams(keys, vals, 1);
	if (db.conn == NULL) {
		db_drop("out of memory");
		return (-1);
	}
	if (PQstatus(db.conn) == CONNECTION_BAD) {
		db_drop(PQerrorMessage(db.conn));
		return (-1);
	}
	PQsetNoticeProcessor(db.conn, db_notice, NULL);
	if (PQsetnonblocking(db.conn, 1) == -1) {
		db_drop(PQerrorMessage(db.conn));
		return (-1);
	}
	db.state = DB_CONNECTING;
	db.polling = 2;
	db.deadline = now_ms() + db.timeout;
	return (0);
}

static void
db_connect_poll(void)
{
	switch (PQconnectPoll(db.conn)) {
	case PGRES_POLLING_READING:
		db.polling = 1;
		break;
	case PGRES_POLLING_WRITING:
		db.polling = 2;
		break;
	case PGRES_POLLING_OK:
		db.state = DB_SETUP;
		db.q = Q_NONE;
		lease_connected();
		break;
	default:
		db_drop(PQerrorMessage(db.conn));
		break;
	}
}

static void
db_flush(void)
{
	switch (PQflush(db.conn)) {
	case 0:
		db.want_write = 0;
		break;
	case 1:
		db.want_write = 1;
		break;
	default:
		db_drop(PQerrorMessage(db.conn));
	}
}

/* Send statement q; only one is in flight.  Returns -1 when busy/down. */
int
db_send(enum query q, int nparams, const char * const *params)
{
	char		 buf[64 + sizeof(schema_sql)];
	int		 rc;

	if (db.conn == NULL || db.q != Q_NONE || db.state == DB_CONNECTING)
		return (-1);
	switch (q) {
	case Q_CREATE:
		/* one node at a time; the tables may appear meanwhile */
		snprintf(buf, sizeof(buf), "BEGIN; SELECT "
		    "pg_advisory_xact_lock(7209); %s COMMIT;", schema_sql);
		rc = PQsendQuery(db.conn, buf);
		break;
	case Q_SESSION:
		snprintf(buf, sizeof(buf), "SET statement_timeout = %u; "
		    "SET lock_timeout = %u; SET synchronous_commit = on; "
		    "LISTEN failover_lease", db.timeout, db.timeout);
		rc = PQsendQuery(db.conn, buf);
		break;
	default:
		rc = PQsendQueryParams(db.conn, statements[q], nparams, NULL,
		    params, NULL, NULL, 0);
		break;
	}
	if (rc == 0) {
		db_drop(PQerrorMessage(db.conn));
		return (-1);
	}
	db.q = q;
	db.sent_at = now_ms();
	db.deadline = db.sent_at + db.timeout;
	log_debug("sent %s", query_names[q]);
	db_flush();
	return (0);
}

static void
db_results(void)
{
	PGresult	*r;
	PGnotify	*n;
	enum query	 q;

	if (PQconsumeInput(db.conn) == 0) {
		db_drop(PQerrorMessage(db.conn));
		return;
	}
	while ((n = PQnotifies(db.conn)) != NULL) {
		PQfreemem(n);
		lease_notified();
	}
	while (db.q != Q_NONE && !PQisBusy(db.conn)) {
		if ((r = PQgetResult(db.conn)) == NULL) {
			/* the statement is complete */
			q = db.q;
			r = db.res;
			db.res = NULL;
			db.q = Q_NONE;
			lease_result(q, r, db.sent_at);
			if (r != NULL)
				PQclear(r);
			if (db.conn == NULL)
				return;
			continue;
		}
		if (db.res == NULL)
			db.res = r;
		else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
			/* the error of a later statement matters more */
			PQclear(db.res);
			db.res = r;
		} else
			PQclear(r);
	}
	while ((n = PQnotifies(db.conn)) != NULL) {
		PQfreemem(n);
		lease_notified();
	}
}

void
db_io(short revents)
{
	if (db.conn == NULL)
		return;
	if (db.state == DB_CONNECTING) {
		if (revents & (POLLIN | POLLOUT | POLLERR | POLLHUP))
			db_connect_poll();
		return;
	}
	if (revents & POLLOUT)
		db_flush();
	if (db.conn != NULL && revents & (POLLIN | POLLERR | POLLHUP))
		db_results();
}

/* The deadline of the connection or statement in flight passed. */
void
db_timeout(void)
{
	char	 msg[FAULT_LEN];

	if (db.state == DB_CONNECTING)
		snprintf(msg, sizeof(msg), "connection not ready within %ums",
		    db.timeout);
	else if (db.q != Q_NONE)
		snprintf(msg, sizeof(msg), "no answer to %s within %ums",
		    query_names[db.q], db.timeout);
	else
		return;
	db_drop(msg);
}
