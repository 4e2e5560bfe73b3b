/*
 * heartbeatd: libpq and the SQL of the lease (failoverd(8), "The
 * lease").  The connection is used in libpq's non-blocking mode only;
 * one statement is in flight at a time and each has its own deadline; a
 * connection that misses it is dropped, and heartbeatd re-opens it.  The
 * schema check, its creation and the session setup happen here; each of
 * the lease's statements is built by a function of its own from what the
 * state machine (lease.c) asked for, and its result is parsed back into
 * a struct lease_reply before lease.c sees it.
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
#include "lease.h"
#include "log.h"

#include "schema.h"	/* generated from heartbeatd/schema.sql */

enum query {
	Q_NONE,
	Q_CHECK,	/* do the tables and the trigger exist? */
	Q_CREATE,	/* create them */
	Q_SESSION,	/* timeouts, synchronous_commit, LISTEN */
	Q_LEASE,	/* a statement of the state machine */
	Q_HISTORY_FROM,	/* where the last N rows of history start */
	Q_HISTORY	/* a page of them */
};

enum db_state {
	DB_DOWN,
	DB_CONNECTING,
	DB_SETUP,
	DB_READY
};

static const char sql_check[] =
    "SELECT to_regclass('failover_lease') IS NOT NULL"
    " AND to_regclass('failover_node') IS NOT NULL"
    " AND to_regclass('failover_event') IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM pg_trigger"
    "  WHERE tgname = 'failover_lease_notify' AND NOT tgisinternal)";

/* a maintenance kept in failover_node survives a restart, not a resume */
static const char sql_register[] =
    "WITH l AS (INSERT INTO failover_lease (cluster, lease_ms)"
    "  VALUES ($1, $2::integer) ON CONFLICT DO NOTHING)"
    " INSERT INTO failover_node AS n (cluster, node, role, token,"
    "  seen_at) VALUES ($1, $3, $4, $5::uuid, clock_timestamp())"
    " ON CONFLICT (cluster, node) DO UPDATE SET"
    "  role = CASE WHEN $6::boolean AND n.role = 'maintenance'"
    "   THEN 'maintenance' ELSE EXCLUDED.role END,"
    "  token = EXCLUDED.token, seen_at = EXCLUDED.seen_at"
    " RETURNING role";

/* the row, and this node's failover_node row touched on the way */
static const char sql_poll[] =
    "WITH me AS (UPDATE failover_node SET role = $3,"
    "  seen_at = clock_timestamp(), beat = beat + 1"
    "  WHERE cluster = $1 AND node = $2 AND token = $4::uuid)"
    " SELECT l.holder, l.token, l.epoch, l.beat, l.handover_to,"
    "  l.lease_ms, (SELECT string_agg(n.node || ' ' || n.role || ' '"
    "   || coalesce((extract(epoch FROM clock_timestamp() - n.seen_at)"
    "   * 1000)::bigint, -1), ',' ORDER BY n.node)"
    "   FROM failover_node n WHERE n.cluster = $1)"
    " FROM failover_lease l WHERE l.cluster = $1";

static const char sql_renew[] =
    "UPDATE failover_lease SET beat = beat + 1, lease_ms = $4::integer,"
    "  changed_at = clock_timestamp()"
    " WHERE cluster = $1 AND holder = $2 AND token = $3::uuid"
    "  AND epoch = $5::bigint"
    "  AND changed_at > clock_timestamp() - $6::integer * interval '1 ms'"
    " RETURNING beat, handover_to";

/* handover_to lapses when the row has not changed for L */
static const char sql_acquire[] =
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
    " SELECT epoch FROM u";

static const char sql_takeover[] =
    "WITH u AS (UPDATE failover_lease SET holder = $2,"
    "  token = $3::uuid, epoch = epoch + 1, beat = 0,"
    "  handover_to = NULL, lease_ms = $4::integer,"
    "  changed_at = clock_timestamp()"
    "  WHERE cluster = $1 AND epoch = $5::bigint AND beat = $6::bigint"
    "  RETURNING epoch),"
    " e AS (INSERT INTO failover_event (cluster, node, epoch, event,"
    "  detail) SELECT $1, $2, epoch, 'takeover', 'from ' || $7 FROM u)"
    " SELECT epoch FROM u";

/* a planned release names the node the lease is handed to */
static const char sql_release[] =
    "WITH u AS (UPDATE failover_lease SET holder = NULL, token = NULL,"
    "  beat = beat + 1, handover_to = NULLIF($5, ''),"
    "  changed_at = clock_timestamp()"
    "  WHERE cluster = $1 AND holder = $2 AND token = $3::uuid"
    "  AND epoch = $4::bigint RETURNING epoch),"
    " e AS (INSERT INTO failover_event (cluster, node, epoch, event,"
    "  detail) SELECT $1, $2, epoch, 'release', $6 FROM u)"
    " SELECT epoch FROM u";

/* a switchover asked for on any node: the active sees it */
static const char sql_handover[] =
    "WITH u AS (UPDATE failover_lease SET handover_to = $2"
    "  WHERE cluster = $1 AND holder IS NOT NULL AND holder <> $2"
    "  RETURNING holder, epoch),"
    " e AS (INSERT INTO failover_event (cluster, node, epoch, event,"
    "  detail) SELECT $1, $3, epoch, 'switchover', 'to ' || $2 ||"
    "  ' asked on ' || $3 FROM u)"
    " SELECT holder, epoch FROM u";

static const char sql_node_role[] =
    "UPDATE failover_node SET role = $3, seen_at = clock_timestamp()"
    " WHERE cluster = $1 AND node = $2 AND token = $4::uuid";

static const char sql_event[] =
    "INSERT INTO failover_event (cluster, node, epoch, event, detail)"
    " VALUES ($1, $2, NULLIF($3, '')::bigint, $4, NULLIF($5, ''))";

/*
 * History goes on the lease's connection, so it is read in steps, each
 * quick, with the lease's statements first whenever one is due: back
 * from the newest, some ids at a time, to where the last N rows start,
 * then forward a page of rows at a time.
 */
static const char sql_history_from[] =
    "SELECT coalesce(min(id), 0), count(*) FROM (SELECT id"
    " FROM failover_event WHERE cluster = $1 AND id < $2::bigint"
    " ORDER BY id DESC LIMIT $3::integer) h";

static const char sql_history[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC',"
    "  'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), coalesce(node, '-'),"
    "  event, coalesce(epoch::text, '-'), coalesce(detail, '')"
    " FROM failover_event WHERE cluster = $1 AND id >= $2::bigint"
    " ORDER BY id LIMIT $3::integer";

static const char *stmt_names[] = {
	[ST_NONE] = "none", [ST_REGISTER] = "register", [ST_POLL] = "poll",
	[ST_RENEW] = "renew", [ST_ACQUIRE] = "acquire",
	[ST_TAKEOVER] = "takeover", [ST_RELEASE] = "release",
	[ST_HANDOVER] = "handover", [ST_NODEROLE] = "node role",
	[ST_EVENT] = "event",
};

static struct {
	PGconn		*conn;
	enum db_state	 state;
	enum query	 q;		/* in flight */
	enum stmt	 st;		/* which, when q is Q_LEASE */
	int		 setup;		/* 0 check, 1 create, 2 check again,
					   3 session */
	int		 create_failed;
	PGresult	*res;		/* the first result of q */
	uint64_t	 sent_at;
	uint64_t	 deadline;
	int		 want_write;
	int		 polling;	/* PQconnectPoll: 1 read, 2 write */
	char		 conninfo[CONNINFO_LEN];
	uint32_t	 timeout;
	char		 error[FAULT_LEN];
	char		 cluster[NAME_LEN];
	char		 node[NAME_LEN];
	char		 token[40];
	char		 dead[16];	/* L */
	char		 renew_within[16];	/* L - M */
} db;

void
db_init(const struct conf_heartbeat *c, const char *token)
{
	memset(&db, 0, sizeof(db));
	strlcpy(db.conninfo, c->conninfo, sizeof(db.conninfo));
	strlcpy(db.cluster, c->cluster, sizeof(db.cluster));
	strlcpy(db.node, c->node, sizeof(db.node));
	strlcpy(db.token, token, sizeof(db.token));
	snprintf(db.dead, sizeof(db.dead), "%u", c->timing.dead);
	snprintf(db.renew_within, sizeof(db.renew_within), "%u",
	    c->timing.dead - c->timing.margin);
	db.timeout = c->timing.timeout;
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

/* Ready, and nothing in flight: a statement may go. */
int
db_idle(void)
{
	return (db.state == DB_READY && db.q == Q_NONE);
}

int
db_down(void)
{
	return (db.state == DB_DOWN && db.conn == NULL);
}

/* The deadline of what is in flight, 0 when nothing is. */
uint64_t
db_deadline(void)
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
	heartbeatd_db_down(db.error);
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

/* Start a connection at now; it completes in db_io(). */
int
db_connect(uint64_t now)
{
	const char	*keys[] = { "dbname", NULL };
	const char	*vals[] = { db.conninfo, NULL };

	if (db.conn != NULL)
		return (0);
	db.conn = PQconnectStartParams(keys, vals, 1);
	if (db.conn == NULL) {
		db.state = DB_CONNECTING;
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
	db.deadline = now + db.timeout;
	return (0);
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

/* Send q; its deadline runs from now, read before the write. */
static int
db_send(enum query q, uint64_t now, const char *sql, int n,
    const char * const *params)
{
	char		 buf[64 + sizeof(schema_sql)];
	int		 rc;

	if (db.conn == NULL || db.q != Q_NONE || db.state == DB_CONNECTING)
		return (-1);
	db.sent_at = now;
	db.deadline = now + db.timeout;
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
		rc = PQsendQueryParams(db.conn, sql, n, NULL, params, NULL,
		    NULL, 0);
		break;
	}
	if (rc == 0) {
		db_drop(PQerrorMessage(db.conn));
		return (-1);
	}
	db.q = q;
	db_flush();
	return (0);
}

static void
db_setup_next(uint64_t now)
{
	switch (db.setup) {
	case 0:
	case 2:
		db_send(Q_CHECK, now, sql_check, 0, NULL);
		break;
	case 1:
		db_send(Q_CREATE, now, NULL, 0, NULL);
		break;
	default:
		db_send(Q_SESSION, now, NULL, 0, NULL);
		break;
	}
}

static void
db_connect_poll(uint64_t now)
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
		db.setup = db.create_failed ? 2 : 0;
		log_info("database: connected");
		db_setup_next(now);
		break;
	default:
		db_drop(PQerrorMessage(db.conn));
		break;
	}
}

static int
lease_register(uint64_t now, const struct lease_stmt *st)
{
	const char	*p[] = { db.cluster, db.dead, db.node, st->role,
			    db.token, st->keep_maintenance ? "t" : "f" };

	return (db_send(Q_LEASE, now, sql_register, 6, p));
}

static int
lease_poll(uint64_t now, const struct lease_stmt *st)
{
	const char	*p[] = { db.cluster, db.node, st->role, db.token };

	return (db_send(Q_LEASE, now, sql_poll, 4, p));
}

static int
lease_renew(uint64_t now, const struct lease_stmt *st)
{
	char		 e[24];
	const char	*p[] = { db.cluster, db.node, db.token, db.dead, e,
			    db.renew_within };

	snprintf(e, sizeof(e), "%lld", (long long)st->epoch);
	return (db_send(Q_LEASE, now, sql_renew, 6, p));
}

static int
lease_acquire(uint64_t now, const struct lease_stmt *st)
{
	char		 e[24];
	const char	*p[] = { db.cluster, db.node, db.token, db.dead, e,
			    st->detail };

	snprintf(e, sizeof(e), "%lld", (long long)st->epoch);
	return (db_send(Q_LEASE, now, sql_acquire, 6, p));
}

/* names exactly the (epoch, beat) the takeover timer was armed for */
static int
lease_takeover(uint64_t now, const struct lease_stmt *st)
{
	char		 e[24], b[24];
	const char	*p[] = { db.cluster, db.node, db.token, db.dead, e, b,
			    st->node };

	snprintf(e, sizeof(e), "%lld", (long long)st->epoch);
	snprintf(b, sizeof(b), "%lld", (long long)st->beat);
	return (db_send(Q_LEASE, now, sql_takeover, 7, p));
}

static int
lease_release(uint64_t now, const struct lease_stmt *st)
{
	char		 e[24];
	const char	*p[] = { db.cluster, db.node, db.token, e, st->node,
			    st->detail };

	snprintf(e, sizeof(e), "%lld", (long long)st->epoch);
	return (db_send(Q_LEASE, now, sql_release, 6, p));
}

static int
lease_handover(uint64_t now, const struct lease_stmt *st)
{
	const char	*p[] = { db.cluster, st->node, db.node };

	return (db_send(Q_LEASE, now, sql_handover, 3, p));
}

static int
node_role(uint64_t now, const struct lease_stmt *st)
{
	const char	*p[] = { db.cluster, db.node, st->role, db.token };

	return (db_send(Q_LEASE, now, sql_node_role, 4, p));
}

static int
event_insert(uint64_t now, const struct lease_stmt *st)
{
	char		 e[24] = "";
	const char	*p[] = { db.cluster, db.node, e, st->event,
			    st->detail };

	if (st->event_epoch >= 0)
		snprintf(e, sizeof(e), "%lld", (long long)st->event_epoch);
	return (db_send(Q_LEASE, now, sql_event, 5, p));
}

/* Send what the state machine asked for; -1 when it could not go. */
int
db_statement(uint64_t now, const struct lease_stmt *st)
{
	int	 rc = -1;

	if (!db_idle())
		return (-1);
	switch (st->kind) {
	case ST_REGISTER:
		rc = lease_register(now, st);
		break;
	case ST_POLL:
		rc = lease_poll(now, st);
		break;
	case ST_RENEW:
		rc = lease_renew(now, st);
		break;
	case ST_ACQUIRE:
		rc = lease_acquire(now, st);
		break;
	case ST_TAKEOVER:
		rc = lease_takeover(now, st);
		break;
	case ST_RELEASE:
		rc = lease_release(now, st);
		break;
	case ST_HANDOVER:
		rc = lease_handover(now, st);
		break;
	case ST_NODEROLE:
		rc = node_role(now, st);
		break;
	case ST_EVENT:
		rc = event_insert(now, st);
		break;
	case ST_NONE:
		fatalx("%s: no statement", __func__);
	}
	if (rc == 0) {
		db.st = st->kind;
		log_debug("sent %s", stmt_names[st->kind]);
	}
	return (rc);
}

/* The n ids of history before id: their least and how many there are
 * (heartbeatd_history_from). */
int
db_history_from(uint64_t now, int64_t before, int n)
{
	char		 lim[16], id[24];
	const char	*p[] = { db.cluster, id, lim };

	if (!db_idle())
		return (-1);
	snprintf(id, sizeof(id), "%lld", (long long)before);
	snprintf(lim, sizeof(lim), "%d", n);
	return (db_send(Q_HISTORY_FROM, now, sql_history_from, 3, p));
}

/* At most n rows from id on (heartbeatd_history_line, _page). */
int
db_history_page(uint64_t now, int64_t from, int n)
{
	char		 lim[16], id[24];
	const char	*p[] = { db.cluster, id, lim };

	if (!db_idle())
		return (-1);
	snprintf(id, sizeof(id), "%lld", (long long)from);
	snprintf(lim, sizeof(lim), "%d", n);
	return (db_send(Q_HISTORY, now, sql_history, 3, p));
}

/* "a standby 12,b active 3" -> nodes */
static void
parse_nodes(const char *s, struct nodes_msg *nm)
{
	char		 buf[4096], *ent, *last, name[NAME_LEN], rname[16];
	long long	 ms;
	int		 i;

	memset(nm, 0, sizeof(*nm));
	if (s == NULL || strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return;
	for (ent = strtok_r(buf, ",", &last); ent != NULL &&
	    nm->n < MAX_NODES; ent = strtok_r(NULL, ",", &last)) {
		if (sscanf(ent, "%63s %15s %lld", name, rname, &ms) != 3)
			continue;
		strlcpy(nm->e[nm->n].node, name, NAME_LEN);
		nm->e[nm->n].role = ROLE_MAX;
		for (i = 0; i < ROLE_MAX; i++)
			if (strcmp(role_name(i), rname) == 0)
				nm->e[nm->n].role = i;
		nm->e[nm->n].seen_ms_ago = ms;
		nm->n++;
	}
}

static const char *
value(PGresult *r, int col)
{
	return (PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

static void
parse_reply(PGresult *r, int ok, struct lease_reply *rp)
{
	struct lease_row *row = &rp->row;
	long long	 ms;

	rp->ok = ok;
	if (!ok) {
		strlcpy(rp->error, r != NULL ? PQresultErrorMessage(r) :
		    "no result", sizeof(rp->error));
		rp->error[strcspn(rp->error, "\n")] = '\0';
		return;
	}
	rp->rows = PQntuples(r);
	if (rp->rows != 1)
		return;
	switch (rp->kind) {
	case ST_REGISTER:
		rp->maintenance = strcmp(value(r, 0), "maintenance") == 0;
		break;
	case ST_POLL:
		strlcpy(row->holder, value(r, 0), sizeof(row->holder));
		strlcpy(row->token, value(r, 1), sizeof(row->token));
		row->epoch = strtoll(value(r, 2), NULL, 10);
		row->beat = strtoll(value(r, 3), NULL, 10);
		strlcpy(row->handover, value(r, 4), sizeof(row->handover));
		/* a lease_ms out of range counts as none: our own L */
		ms = strtoll(value(r, 5), NULL, 10);
		row->lease_ms = ms > 0 && ms <= INT32_MAX ? ms : 0;
		parse_nodes(PQgetisnull(r, 0, 6) ? NULL : PQgetvalue(r, 0, 6),
		    &rp->nodes);
		break;
	case ST_RENEW:
		rp->beat = strtoll(value(r, 0), NULL, 10);
		strlcpy(rp->handover, value(r, 1), sizeof(rp->handover));
		break;
	case ST_ACQUIRE:
	case ST_TAKEOVER:
		rp->epoch = strtoll(value(r, 0), NULL, 10);
		break;
	default:
		break;
	}
}

static void
history_result(enum query q, PGresult *r, int ok)
{
	const char	*err = ok ? "" : r != NULL ? PQresultErrorMessage(r) :
			    "no result";
	char		 line[CTL_MSG_LEN];
	int64_t		 last = 0;
	int		 i;

	if (q == Q_HISTORY_FROM) {
		ok = ok && PQntuples(r) == 1;
		heartbeatd_history_from(ok, ok ? strtoll(PQgetvalue(r, 0, 0),
		    NULL, 10) : 0, ok ? atoi(PQgetvalue(r, 0, 1)) : 0,
		    ok ? "" : err[0] ? err : "no row");
		return;
	}
	for (i = 0; ok && i < PQntuples(r); i++) {
		last = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		snprintf(line, sizeof(line), "%s %s %s epoch %s%s%s",
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
		    PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
		    PQgetvalue(r, i, 5)[0] ? " " : "", PQgetvalue(r, i, 5));
		heartbeatd_history_line(line);
	}
	heartbeatd_history_page(ok, ok ? PQntuples(r) : 0, last, err);
}

/* The schema, created when it is missing and may be; then the session. */
static void
setup_result(enum query q, PGresult *r, int ok, uint64_t now)
{
	const char	*err;

	err = r != NULL ? PQresultErrorMessage(r) : "no result";

	switch (q) {
	case Q_CHECK:
		if (!ok || PQntuples(r) != 1) {
			/* a failed look is no answer: look again later */
			db_drop(err);
			return;
		}
		if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
			db.create_failed = 0;
			db.setup = 3;
		} else if (db.setup == 0)
			db.setup = 1;
		else
			fatalx("database: the failover tables are missing and "
			    "cannot be created (%s): have a DBA apply "
			    "heartbeatd/schema.sql", db.error[0] ? db.error :
			    "permission denied");
		break;
	case Q_CREATE:
		if (!ok) {
			/* its transaction is aborted: look again on a new
			 * connection, and give up if they are still missing */
			log_warnx("database: creating the tables: %s", err);
			db.create_failed = 1;
			db_drop(err);
			return;
		} else {
			log_notice("database: created the failover tables");
			db.setup = 0;
		}
		break;
	case Q_SESSION:
		if (!ok) {
			db_drop(err);
			return;
		}
		db.state = DB_READY;
		log_info("database: ready");
		heartbeatd_db_ready();
		return;
	default:
		fatalx("%s: query %d", __func__, q);
	}
	db_setup_next(now);
}

static void
db_complete(enum query q, PGresult *r, uint64_t now)
{
	struct lease_reply	 rp;
	int			 ok;

	ok = r != NULL && (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK);
	if (!ok && q != Q_CHECK && q != Q_CREATE && (db.conn == NULL ||
	    PQstatus(db.conn) == CONNECTION_BAD)) {
		db_drop(r != NULL ? PQresultErrorMessage(r) : "no result");
		return;
	}
	switch (q) {
	case Q_CHECK:
	case Q_CREATE:
	case Q_SESSION:
		setup_result(q, r, ok, now);
		break;
	case Q_LEASE:
		memset(&rp, 0, sizeof(rp));
		rp.kind = db.st;
		parse_reply(r, ok, &rp);
		heartbeatd_reply(&rp, db.sent_at);
		break;
	case Q_HISTORY_FROM:
	case Q_HISTORY:
		history_result(q, r, ok);
		break;
	case Q_NONE:
		break;
	}
}

static void
db_results(uint64_t now)
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
		heartbeatd_notified();
	}
	while (db.conn != NULL && db.q != Q_NONE && !PQisBusy(db.conn)) {
		if ((r = PQgetResult(db.conn)) == NULL) {
			/* the statement is complete */
			q = db.q;
			r = db.res;
			db.res = NULL;
			db.q = Q_NONE;
			db_complete(q, r, now);
			if (r != NULL)
				PQclear(r);
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
	while (db.conn != NULL && (n = PQnotifies(db.conn)) != NULL) {
		PQfreemem(n);
		heartbeatd_notified();
	}
}

void
db_io(short revents, uint64_t now)
{
	if (db.conn == NULL)
		return;
	if (db.state == DB_CONNECTING) {
		if (revents & (POLLIN | POLLOUT | POLLERR | POLLHUP))
			db_connect_poll(now);
		return;
	}
	if (revents & POLLOUT)
		db_flush();
	if (db.conn != NULL && revents & (POLLIN | POLLERR | POLLHUP))
		db_results(now);
}

/* The deadline of the connection or statement in flight passed. */
void
db_timeout(uint64_t now)
{
	char	 msg[FAULT_LEN];

	if (db.state == DB_CONNECTING)
		snprintf(msg, sizeof(msg), "connection not ready within %ums",
		    db.timeout);
	else if (db.q == Q_LEASE)
		snprintf(msg, sizeof(msg), "no answer to %s within %ums",
		    stmt_names[db.st], db.timeout);
	else if (db.q != Q_NONE)
		snprintf(msg, sizeof(msg), "no answer to the setup within "
		    "%ums", db.timeout);
	else
		return;
	if (now < db.deadline)
		return;
	db_drop(msg);
}
