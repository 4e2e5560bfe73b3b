/*
 * failoverctl: the same executable under another name.  It sends one
 * fixed-size request over the control socket and prints the answer.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "monitor.h"
#include "util.h"

#define CTL_TIMEOUT	10000	/* ms for the daemon to answer */
#define CTL_LONG_TIMEOUT 600000	/* ms for a switchover, standby, sync */

enum ctl_action {
	A_NONE,
	A_STATUS,
	A_SWITCHOVER,
	A_STANDBY,
	A_RESUME,
	A_SYNC,
	A_HISTORY,
	A_RELOAD,
	A_LOG,
	A_KEYGEN,
	A_PUBKEY,
	A_METRICS
};

static const struct ctl_command {
	const char	*name;
	enum ctl_action	 action;
	uint32_t	 type;
} commands[] = {
	{ "status",	A_STATUS,	IMSG_CTL_STATUS },
	{ "switchover",	A_SWITCHOVER,	IMSG_CTL_SWITCHOVER },
	{ "standby",	A_STANDBY,	IMSG_CTL_STANDBY },
	{ "resume",	A_RESUME,	IMSG_CTL_RESUME },
	{ "sync",	A_SYNC,		IMSG_CTL_SYNC },
	{ "history",	A_HISTORY,	IMSG_CTL_HISTORY },
	{ "reload",	A_RELOAD,	IMSG_CTL_RELOAD },
	{ "log",	A_LOG,		IMSG_CTL_LOG },
	{ "metrics",	A_METRICS,	IMSG_CTL_STATUS },
	{ "keygen",	A_KEYGEN,	0 },
	{ "pubkey",	A_PUBKEY,	0 },
	{ NULL,		A_NONE,		0 }
};

static __dead void
ctl_usage(void)
{
	fprintf(stderr,
	    "usage: failoverctl [-V] [-s socket] command [argument ...]\n"
	    "commands: status [-j], switchover [node], standby, resume, "
	    "sync,\n"
	    "          history [-j] [-n N], reload, log brief|verbose|debug,\n"
	    "          metrics, keygen file, pubkey file\n");
	exit(1);
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char	 c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
json_strn(const char *s)
{
	if (s[0] == '\0')
		printf("null");
	else
		json_str(s);
}

static void
json_int(int64_t v)
{
	if (v < 0)
		printf("null");
	else
		printf("%lld", (long long)v);
}

static int
ctl_keygen(const char *path)
{
	uint8_t	 sk[KEY_LEN], pk[KEY_LEN];
	char	 b64[KEY_B64LEN], errbuf[PATH_LEN + 128];

	char	 dir[PATH_LEN], *slash;

	if (sodium_init() == -1)
		errx(1, "sodium_init failed");
	/* the keys' directory (/etc/failoverd), made 0700 when missing */
	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		errx(1, "%s: path too long", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == 0)
			fprintf(stderr, "failoverctl: created %s (mode 0700)\n",
			    dir);
		else if (errno != EEXIST)
			err(1, "mkdir %s", dir);
	}
	if (key_file_write(path, sk, errbuf, sizeof(errbuf)) == -1)
		errx(1, "%s", errbuf);
	crypto_scalarmult_base(pk, sk);
	sodium_memzero(sk, sizeof(sk));
	key_b64_encode(pk, b64);
	printf("%s\n", b64);
	return (0);
}

static int
ctl_pubkey(const char *path)
{
	uint8_t	 sk[KEY_LEN], pk[KEY_LEN];
	char	 b64[KEY_B64LEN], errbuf[PATH_LEN + 128];

	if (sodium_init() == -1)
		errx(1, "sodium_init failed");
	if (key_file_read(path, sk, 0, errbuf, sizeof(errbuf)) == -1)
		errx(1, "%s", errbuf);
	crypto_scalarmult_base(pk, sk);
	sodium_memzero(sk, sizeof(sk));
	key_b64_encode(pk, b64);
	printf("%s\n", b64);
	return (0);
}

/* unix seconds as an RFC 3339 string, or null */
static void
json_time(int64_t secs)
{
	char		 tbuf[64];
	time_t		 t = secs;
	struct tm	 tm;

	if (secs < 0) {
		printf("null");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_str(tbuf);
}

/* A duration a person reads: 0.3 s, 12 s, 4 min, 3 h 2 min, 2 d 4 h. */
static const char *
human_ms(int64_t ms, char *buf, size_t len)
{
	int64_t	 s = ms / 1000;

	if (ms < 0)
		strlcpy(buf, "-", len);
	else if (ms < 10000)
		snprintf(buf, len, "%lld.%lld s", (long long)(ms / 1000),
		    (long long)(ms % 1000 / 100));
	else if (s < 120)
		snprintf(buf, len, "%lld s", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lld min", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lld h %lld min", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lld d %lld h", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	return (buf);
}

static const char *
human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char	*units[] = { "KiB", "MiB", "GiB", "TiB" };
	double			 v = b;
	int			 u = -1;

	if (b < 1024) {
		snprintf(buf, len, "%llu bytes", (unsigned long long)b);
		return (buf);
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return (buf);
}

static int64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* A wall-clock time in local time: the time of day today, else the date. */
static const char *
human_time(int64_t ms, char *buf, size_t len)
{
	struct tm	 tm, today;
	time_t		 t = ms / 1000, now = time(NULL);

	localtime_r(&t, &tm);
	localtime_r(&now, &today);
	if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
		strftime(buf, len, "%H:%M:%S", &tm);
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return (buf);
}

struct status {
	struct ctl_status	 st;
	struct ctl_status_more	 more;
	int			 have_more;
	struct ctl_status_vip	 vips[64];
	int			 nvips;
	struct ctl_status_node	 nodes[64];
	int			 nnodes;
	struct ctl_status_peer	 peers[MAX_SYNC_PEERS];
	int			 npeers;
	struct ctl_status_attic	 attics[MAX_ATTICS];
	int			 nattics;
};

/* Healthy: active or standby, the database up, no fault (exit 0). */
static int
status_healthy(const struct ctl_status *st)
{
	return ((st->role == ROLE_ACTIVE || st->role == ROLE_STANDBY) &&
	    st->db_up && st->fault[0] == '\0');
}

/* A row older than L is a node that is gone (0: L is not known). */
static int
node_gone(const struct status *s, const struct ctl_status_node *n)
{
	return (n->seen_ms_ago < 0 || (s->have_more && s->more.dead > 0 &&
	    n->seen_ms_ago > s->more.dead));
}

static void
print_json(struct status *s)
{
	struct ctl_status	*st = &s->st;
	char			 buf[ADDR_STRLEN];
	int			 i;

	printf("{\"schema\":1,\"node\":");
	json_str(st->node);
	printf(",\"cluster\":");
	json_str(st->cluster);
	printf(",\"role\":");
	json_str(role_name(st->role));
	printf(",\"epoch\":");
	json_int(st->epoch);
	printf(",\"holder\":");
	json_strn(st->holder);
	printf(",\"lease_left_ms\":");
	json_int(st->lease_left_ms);
	printf(",\"db\":\"%s\"", st->db_up ? "up" : "down");
	printf(",\"vips\":[");
	for (i = 0; i < s->nvips; i++) {
		printf("%s{\"address\":\"%s/%u\",\"interface\":",
		    i ? "," : "", addr_str(&s->vips[i].addr, buf,
		    sizeof(buf)), s->vips[i].prefixlen);
		json_str(s->vips[i].ifname);
		printf(",\"bound\":%s}", s->vips[i].bound ? "true" : "false");
	}
	printf("],\"nodes\":[");
	for (i = 0; i < s->nnodes; i++) {
		printf("%s{\"node\":", i ? "," : "");
		json_str(s->nodes[i].node);
		printf(",\"role\":");
		json_str(role_name(s->nodes[i].role));
		printf(",\"seen_ms_ago\":");
		json_int(s->nodes[i].seen_ms_ago);
		printf(",\"gone\":%s}", node_gone(s, &s->nodes[i]) ? "true" :
		    "false");
	}
	printf("],\"sync\":{\"last_ok\":");
	json_time(st->sync_last_ok);
	printf(",\"last_error\":");
	json_strn(st->sync_last_error);
	printf(",\"files\":%llu,\"bytes\":%llu,\"skipped\":%llu,"
	    "\"peers\":[", (unsigned long long)st->sync_files,
	    (unsigned long long)st->sync_bytes,
	    (unsigned long long)st->sync_skipped);
	for (i = 0; i < s->npeers; i++) {
		printf("%s{\"node\":", i ? "," : "");
		json_str(s->peers[i].node);
		printf(",\"state\":");
		json_str(s->peers[i].state);
		printf(",\"last_ok\":");
		json_time(s->peers[i].last_ok);
		printf(",\"error\":");
		json_strn(s->peers[i].error);
		printf("}");
	}
	printf("],\"attic\":[");
	for (i = 0; i < s->nattics; i++)
		printf("%s{\"epoch\":%lld,\"files\":%llu}", i ? "," : "",
		    (long long)s->attics[i].epoch,
		    (unsigned long long)s->attics[i].files);
	printf("]}");
	printf(",\"fault\":");
	json_strn(st->fault);
	printf(",\"healthy\":%s", status_healthy(st) ? "true" : "false");
	if (s->have_more) {
		printf(",\"since\":");
		if (s->more.role_since < 0)
			printf("null");
		else {
			char		 t[40];
			time_t		 tt = s->more.role_since / 1000;
			struct tm	 tm;

			gmtime_r(&tt, &tm);
			strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
			printf("\"%s.%03dZ\"", t,
			    (int)(s->more.role_since % 1000));
		}
		printf(",\"why\":");
		json_strn(s->more.role_why);
		printf(",\"takeovers\":%llu,\"faults\":%llu,\"version\":",
		    (unsigned long long)s->more.takeovers,
		    (unsigned long long)s->more.faults);
		json_str(s->more.version);
	}
	printf("}\n");
}

/*
 * For a person at 3 a.m.: one line per node, the active marked; then the
 * lease, the database, the addresses, the sync, the fault, in words.
 */
static void
print_human(struct status *s)
{
	struct ctl_status	*st = &s->st;
	char			 a[64], b[64], c[64], addr[ADDR_STRLEN];
	int64_t			 now = wall_ms();
	int			 i, self_listed = 0;

	printf("cluster %s, seen from node %s%s%s\n", st->cluster, st->node,
	    s->have_more ? ", failoverd " : "", s->have_more ?
	    s->more.version : "");
	for (i = 0; i < s->nnodes; i++) {
		struct ctl_status_node	*n = &s->nodes[i];
		int			 self = strcmp(n->node, st->node) == 0;
		int			 gone = !self && node_gone(s, n);
		int			 act = self ? st->role == ROLE_ACTIVE :
		    !gone && n->role == ROLE_ACTIVE;

		self_listed |= self;
		printf("  %s %-16s ", act ? "*" : " ", n->node);
		if (self) {
			printf("%-11s", role_name(st->role));
			if (s->have_more && s->more.role_since > 0)
				printf(" since %s (%s ago)%s%s",
				    human_time(s->more.role_since, a,
				    sizeof(a)), human_ms(now -
				    s->more.role_since, b, sizeof(b)),
				    s->more.role_why[0] ? ": " : "",
				    s->more.role_why);
			printf("   <- this node\n");
		} else if (n->seen_ms_ago < 0)
			printf("%-11s never seen\n", "unknown");
		else if (gone)
			printf("%-11s last seen %s (%s ago) as %s\n", "gone",
			    human_time(now - n->seen_ms_ago, a, sizeof(a)),
			    human_ms(n->seen_ms_ago, b, sizeof(b)),
			    role_name(n->role));
		else
			printf("%-11s seen %s ago\n", role_name(n->role),
			    human_ms(n->seen_ms_ago, a, sizeof(a)));
	}
	if (!self_listed)
		printf("  %s %-16s %-11s   <- this node (no row yet)\n",
		    st->role == ROLE_ACTIVE ? "*" : " ", st->node,
		    role_name(st->role));
	if (st->epoch < 0)
		printf("epoch:    none yet\n");
	else
		printf("epoch:    %lld, lease held by %s\n", (long long)st->epoch,
		    st->holder[0] ? st->holder : "no node");
	if (st->lease_left_ms < 0)
		printf("lease:    -\n");
	else if (st->role == ROLE_ACTIVE)
		printf("lease:    %s left before this node must renew or "
		    "step down\n", human_ms(st->lease_left_ms, a, sizeof(a)));
	else
		printf("lease:    %s left before %s may be taken over\n",
		    human_ms(st->lease_left_ms, a, sizeof(a)), st->holder);
	printf("database: %s\n", st->db_up ? "up" : "DOWN");
	for (i = 0; i < s->nvips; i++)
		printf("%s%s/%u on %s: %s\n", i ? "          " : "vip:      ",
		    addr_str(&s->vips[i].addr, addr, sizeof(addr)),
		    s->vips[i].prefixlen, s->vips[i].ifname,
		    s->vips[i].bound ? "bound here" : st->holder[0] &&
		    strcmp(st->holder, st->node) != 0 ? "not here (the active "
		    "node holds it)" : "not bound");
	if (st->sync_last_ok < 0)
		printf("sync:     no round completed yet");
	else
		printf("sync:     last ok %s (%s ago)", human_time(
		    st->sync_last_ok * 1000, a, sizeof(a)), human_ms(now -
		    st->sync_last_ok * 1000, b, sizeof(b)));
	printf(", %llu files, %s since the start\n",
	    (unsigned long long)st->sync_files, human_bytes(st->sync_bytes, c,
	    sizeof(c)));
	if (st->sync_last_error[0] != '\0')
		printf("          last error: %s\n", st->sync_last_error);
	if (st->sync_skipped > 0)
		printf("          %llu paths skipped (not a file, directory or "
		    "symlink)\n", (unsigned long long)st->sync_skipped);
	for (i = 0; i < s->npeers; i++) {
		printf("          peer %s: %s", s->peers[i].node,
		    s->peers[i].state);
		if (s->peers[i].last_ok >= 0)
			printf(", last ok %s ago", human_ms(now -
			    s->peers[i].last_ok * 1000, a, sizeof(a)));
		if (s->peers[i].error[0] != '\0')
			printf(": %s", s->peers[i].error);
		printf("\n");
	}
	if (s->nattics > 0) {
		printf("attic:   ");
		for (i = 0; i < s->nattics; i++)
			printf("%s epoch %lld (%llu files)", i ? "," : "",
			    (long long)s->attics[i].epoch,
			    (unsigned long long)s->attics[i].files);
		printf("\n");
	}
	printf("fault:    %s\n", st->fault[0] ? st->fault : "none");
	if (status_healthy(st))
		printf("health:   ok\n");
	else
		printf("health:   NOT OK: %s\n", st->fault[0] ? st->fault :
		    !st->db_up ? "the database is down" :
		    st->role == ROLE_MAINTENANCE ? "in maintenance "
		    "(failoverctl resume)" : "not yet active or standby");
}

/* The Prometheus text exposition format, version 0.0.4. */
static void
metric(const char *name, const char *type, const char *help)
{
	printf("# HELP failoverd_%s %s\n# TYPE failoverd_%s %s\n", name, help,
	    name, type);
}

static void
label_str(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

static void
print_metrics(struct status *s)
{
	struct ctl_status	*st = &s->st;
	char			 addr[ADDR_STRLEN];
	int			 i, r;

	metric("info", "gauge", "The version, node and cluster (always 1).");
	printf("failoverd_info{version=\"");
	label_str(s->have_more ? s->more.version : "");
	printf("\",node=\"");
	label_str(st->node);
	printf("\",cluster=\"");
	label_str(st->cluster);
	printf("\"} 1\n");
	metric("role", "gauge", "1 for the role this node is in, 0 for the "
	    "others.");
	for (r = 0; r < ROLE_MAX; r++)
		printf("failoverd_role{role=\"%s\"} %d\n", role_name(r),
		    (int)st->role == r);
	metric("healthy", "gauge", "1 when active or standby, the database "
	    "up and no fault.");
	printf("failoverd_healthy %d\n", status_healthy(st));
	metric("epoch", "gauge", "The lease's epoch this node last saw.");
	printf("failoverd_epoch %lld\n", (long long)(st->epoch < 0 ? 0 :
	    st->epoch));
	if (st->lease_left_ms >= 0) {
		metric("lease_left_seconds", "gauge", "Active: to its own "
		    "demotion deadline; standby: until it may take over.");
		printf("failoverd_lease_left_seconds %.3f\n",
		    st->lease_left_ms / 1000.0);
	}
	metric("db_up", "gauge", "1 when the lease database answers.");
	printf("failoverd_db_up %d\n", st->db_up ? 1 : 0);
	metric("fault", "gauge", "1 while a fault is shown.");
	printf("failoverd_fault %d\n", st->fault[0] ? 1 : 0);
	if (st->sync_last_ok >= 0) {
		metric("sync_last_ok_age_seconds", "gauge", "Since the last "
		    "completed sync round.");
		printf("failoverd_sync_last_ok_age_seconds %.3f\n",
		    (wall_ms() - st->sync_last_ok * 1000) / 1000.0);
	}
	metric("sync_files_total", "counter", "Files shipped or received "
	    "since the start.");
	printf("failoverd_sync_files_total %llu\n",
	    (unsigned long long)st->sync_files);
	metric("sync_bytes_total", "counter", "Bytes shipped or received "
	    "since the start.");
	printf("failoverd_sync_bytes_total %llu\n",
	    (unsigned long long)st->sync_bytes);
	if (s->have_more) {
		metric("takeovers_total", "counter", "Times this node became "
		    "active since the start.");
		printf("failoverd_takeovers_total %llu\n",
		    (unsigned long long)s->more.takeovers);
		metric("demotions_total", "counter", "Times this node left "
		    "the active role since the start.");
		printf("failoverd_demotions_total %llu\n",
		    (unsigned long long)s->more.demotions);
		metric("faults_total", "counter", "Times this node entered "
		    "fault since the start.");
		printf("failoverd_faults_total %llu\n",
		    (unsigned long long)s->more.faults);
		metric("alerts_total", "counter", "Alerts raised since the "
		    "start.");
		printf("failoverd_alerts_total %llu\n",
		    (unsigned long long)s->more.alerts);
		if (s->more.role_since > 0) {
			metric("role_since_timestamp_seconds", "gauge",
			    "When this node's role last changed (unix time).");
			printf("failoverd_role_since_timestamp_seconds %.3f\n",
			    s->more.role_since / 1000.0);
		}
	}
	if (s->nvips > 0)
		metric("vip_bound", "gauge", "1 when the address is bound on "
		    "this node.");
	for (i = 0; i < s->nvips; i++) {
		printf("failoverd_vip_bound{address=\"%s/%u\",interface=\"",
		    addr_str(&s->vips[i].addr, addr, sizeof(addr)),
		    s->vips[i].prefixlen);
		label_str(s->vips[i].ifname);
		printf("\"} %d\n", s->vips[i].bound ? 1 : 0);
	}
	if (s->nnodes > 0)
		metric("node_seen_seconds", "gauge", "Age of each node's row "
		    "in failover_node.");
	for (i = 0; i < s->nnodes; i++) {
		if (s->nodes[i].seen_ms_ago < 0)
			continue;
		printf("failoverd_node_seen_seconds{node=\"");
		label_str(s->nodes[i].node);
		printf("\",role=\"%s\"} %.3f\n", role_name(s->nodes[i].role),
		    s->nodes[i].seen_ms_ago / 1000.0);
	}
}

/*
 * history -j: each line "TIME NODE EVENT epoch N DETAIL" as an object of
 * a JSON array; a line not of that form keeps its text in "line".
 */
static void
history_json(const char *line, int first)
{
	char		 t[64], node[NAME_LEN], ev[64], ep[32], *end;
	long long	 epoch;
	int		 off = 0, n;

	printf("%s", first ? "[" : ",");
	n = sscanf(line, "%63s %63s %63s epoch %31s %n", t, node, ev, ep, &off);
	if (n < 4) {
		printf("{\"line\":");
		json_str(line);
		printf("}");
		return;
	}
	printf("{\"time\":");
	json_str(t);
	printf(",\"node\":");
	json_str(node);
	printf(",\"event\":");
	json_str(ev);
	epoch = strtoll(ep, &end, 10);
	if (*end != '\0' || end == ep)
		printf(",\"epoch\":null");
	else
		printf(",\"epoch\":%lld", epoch);
	printf(",\"detail\":");
	json_str(off > 0 ? line + off : "");
	printf("}");
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, waited;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "%s: socket path too long", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		err(1, "socket");
	/* a full backlog (a stopped or flooded daemon) is waited for, so
	 * long: a non-blocking connect says EAGAIN, and is tried again */
	for (waited = 0; connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1; waited += 100) {
		if (errno != EAGAIN)
			err(1, "connect %s", path);
		if (waited >= CTL_TIMEOUT)
			errx(1, "%s: failoverd accepts no connection within "
			    "%d s", path, CTL_TIMEOUT / 1000);
		poll(NULL, 0, 100);
	}
	return (fd);
}

int
ctl_main(int argc, char *argv[])
{
	const struct ctl_command *cmd;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct ctl_req		 req;
	struct ctl_result	 res;
	static struct status	 S;
	struct ctl_status	*st = &S.st;
	struct pollfd		 pfd;
	const char		*sockpath = CONTROL_SOCKET, *errstr;
	ssize_t			 n;
	int			 ch, json = 0, done = 0, nhist = 0;
	int			 rc = 0, have_status = 0, timeout;
	struct history_line_msg	 hl;

	while ((ch = getopt(argc, argv, "+s:V")) != -1) {
		switch (ch) {
		case 's':
			sockpath = optarg;
			break;
		case 'V':
			printf("failoverctl %s\n", FO_VERSION);
			return (0);
		default:
			ctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		ctl_usage();
	for (cmd = commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[0]) == 0)
			break;
	if (cmd->name == NULL) {
		warnx("unknown command: %s", argv[0]);
		ctl_usage();
	}

	memset(&req, 0, sizeof(req));
	switch (cmd->action) {
	case A_STATUS:
		if (argc == 2 && strcmp(argv[1], "-j") == 0)
			json = 1;
		else if (argc != 1)
			ctl_usage();
		req.flags = CTL_F_MORE;
		break;
	case A_METRICS:
		if (argc != 1)
			ctl_usage();
		req.flags = CTL_F_MORE;
		break;
	case A_SWITCHOVER:
		if (argc > 2)
			ctl_usage();
		if (argc == 2 && strlcpy(req.node, argv[1], sizeof(req.node))
		    >= sizeof(req.node))
			errx(1, "%s: node name too long", argv[1]);
		break;
	case A_HISTORY:
		req.value = 20;
		for (ch = 1; ch < argc; ch++) {
			if (strcmp(argv[ch], "-j") == 0)
				json = 1;
			else if (strcmp(argv[ch], "-n") == 0 &&
			    ch + 1 < argc) {
				req.value = strtonum(argv[++ch], 1, 100000,
				    &errstr);
				if (errstr != NULL)
					errx(1, "history -n %s: %s", argv[ch],
					    errstr);
			} else
				ctl_usage();
		}
		break;
	case A_LOG:
		if (argc != 2)
			ctl_usage();
		if (strcmp(argv[1], "verbose") == 0)
			req.value = 1;
		else if (strcmp(argv[1], "debug") == 0)
			req.value = 2;
		else if (strcmp(argv[1], "brief") != 0)
			ctl_usage();
		break;
	case A_KEYGEN:
		if (argc != 2)
			ctl_usage();
		return (ctl_keygen(argv[1]));
	case A_PUBKEY:
		if (argc != 2)
			ctl_usage();
		return (ctl_pubkey(argv[1]));
	default:
		if (argc != 1)
			ctl_usage();
		break;
	}

	if (imsgbuf_init(&ibuf, ctl_connect(sockpath)) == -1)
		err(1, "imsgbuf_init");
	if (imsg_compose(&ibuf, cmd->type, 0, 0, -1, &req, sizeof(req)) == -1
	    || imsgbuf_flush(&ibuf) == -1)
		err(1, "write to %s", sockpath);

	/*
	 * heartbeatd bounds a switchover by 2 x dead and syncd a forced
	 * round by 120 s; others are quick.  Past the bound the request may
	 * still complete: failoverctl says so and gives up.
	 */
	timeout = cmd->action == A_SWITCHOVER || cmd->action == A_STANDBY ||
	    cmd->action == A_SYNC ? CTL_LONG_TIMEOUT : CTL_TIMEOUT;
	while (!done) {
		pfd.fd = ibuf.fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, timeout)) == -1)
			err(1, "poll");
		if (n == 0)
			errx(1, "no answer from failoverd within %d s%s",
			    timeout / 1000, timeout == CTL_LONG_TIMEOUT ?
			    "; it may still be under way (see failoverctl "
			    "status)" : "");
		if ((n = imsgbuf_read(&ibuf)) == -1)
			err(1, "read from %s", sockpath);
		if (n == 0)
			errx(1, "failoverd closed the connection");
		for (;;) {
			if ((n = imsg_get(&ibuf, &imsg)) == -1)
				err(1, "bad answer");
			if (n == 0)
				break;
			switch (imsg_get_type(&imsg)) {
			case IMSG_CTL_RESULT:
				if (imsg_get_data(&imsg, &res, sizeof(res))
				    == -1 || !STR_OK(res.msg))
					errx(1, "bad answer");
				if (res.code != 0) {
					fprintf(stderr, "failoverctl: %s\n",
					    res.msg);
					rc = res.code;
				} else if (res.msg[0] != '\0')
					/* JSON on stdout stays JSON */
					fprintf(json ? stderr : stdout, "%s\n",
					    res.msg);
				done = 1;
				break;
			case IMSG_CTL_STATUS:
				if (imsg_get_data(&imsg, st, sizeof(*st)) ==
				    -1 || !STR_OK(st->node) ||
				    !STR_OK(st->cluster) ||
				    !STR_OK(st->holder) ||
				    !STR_OK(st->fault) ||
				    !STR_OK(st->sync_last_error))
					errx(1, "bad answer");
				have_status = 1;
				break;
			case IMSG_CTL_STATUS_MORE:
				if (imsg_get_data(&imsg, &S.more,
				    sizeof(S.more)) == -1 ||
				    !STR_OK(S.more.role_why) ||
				    !STR_OK(S.more.version))
					errx(1, "bad answer");
				S.have_more = 1;
				break;
			case IMSG_CTL_STATUS_VIP:
				if (S.nvips >= (int)(sizeof(S.vips) /
				    sizeof(S.vips[0])))
					break;
				if (imsg_get_data(&imsg, &S.vips[S.nvips],
				    sizeof(S.vips[0])) == -1 ||
				    !STR_OK(S.vips[S.nvips].ifname))
					errx(1, "bad answer");
				S.nvips++;
				break;
			case IMSG_CTL_STATUS_NODE:
				if (S.nnodes >= (int)(sizeof(S.nodes) /
				    sizeof(S.nodes[0])))
					break;
				if (imsg_get_data(&imsg, &S.nodes[S.nnodes],
				    sizeof(S.nodes[0])) == -1 ||
				    !STR_OK(S.nodes[S.nnodes].node))
					errx(1, "bad answer");
				S.nnodes++;
				break;
			case IMSG_CTL_STATUS_PEER:
				if (S.npeers >= MAX_SYNC_PEERS)
					break;
				if (imsg_get_data(&imsg, &S.peers[S.npeers],
				    sizeof(S.peers[0])) == -1 ||
				    !STR_OK(S.peers[S.npeers].node) ||
				    !STR_OK(S.peers[S.npeers].state) ||
				    !STR_OK(S.peers[S.npeers].error))
					errx(1, "bad answer");
				S.npeers++;
				break;
			case IMSG_CTL_STATUS_ATTIC:
				if (S.nattics >= MAX_ATTICS)
					break;
				if (imsg_get_data(&imsg, &S.attics[S.nattics],
				    sizeof(S.attics[0])) == -1)
					errx(1, "bad answer");
				S.nattics++;
				break;
			case IMSG_HISTORY_LINE:
				if (imsg_get_data(&imsg, &hl, sizeof(hl)) ==
				    -1 || !STR_OK(hl.line))
					errx(1, "bad answer");
				if (json)
					history_json(hl.line, nhist == 0);
				else
					printf("%s\n", hl.line);
				nhist++;
				break;
			case IMSG_CTL_END:
				done = 1;
				break;
			default:
				errx(1, "unexpected answer type %u",
				    imsg_get_type(&imsg));
			}
			imsg_free(&imsg);
		}
	}
	/* valid JSON also when the history broke off with an error */
	if (cmd->action == A_HISTORY && json && (rc == 0 || nhist > 0))
		printf("%s]\n", nhist == 0 ? "[" : "");
	if (have_status) {
		if (cmd->action == A_METRICS)
			print_metrics(&S);
		else if (json)
			print_json(&S);
		else
			print_human(&S);
		/* for scripts and monitoring: 1 when this node is unwell */
		if (cmd->action == A_STATUS && !status_healthy(st))
			rc = 1;
	}
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return (rc);
}
