/*
 * failoverctl: the same executable under another name.  It sends one
 * fixed-size request over the control socket and prints the answer.
 */

#include <sys/types.h>
#include <sys/socket.h>
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
	A_PUBKEY
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
	{ "keygen",	A_KEYGEN,	0 },
	{ "pubkey",	A_PUBKEY,	0 },
	{ NULL,		A_NONE,		0 }
};

static __dead void
ctl_usage(void)
{
	fprintf(stderr,
	    "usage: failoverctl [-s socket] command [argument ...]\n"
	    "commands: status [-j], switchover [node], standby, resume, "
	    "sync,\n"
	    "          history [-n N], reload, log brief|verbose,\n"
	    "          keygen file, pubkey file\n");
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

static const char *
or_dash(const char *s)
{
	return (s[0] == '\0' ? "-" : s);
}

static int
ctl_keygen(const char *path)
{
	uint8_t	 sk[KEY_LEN], pk[KEY_LEN];
	char	 b64[KEY_B64LEN], errbuf[PATH_LEN + 128];

	if (sodium_init() == -1)
		errx(1, "sodium_init failed");
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

static void
print_status(struct ctl_status *st, struct ctl_status_vip *vips, int nvips,
    struct ctl_status_node *nodes, int nnodes, struct ctl_status_peer *peers,
    int npeers, struct ctl_status_attic *attics, int nattics, int json)
{
	char	 buf[ADDR_STRLEN];
	int	 i;

	if (json) {
		printf("{\"node\":");
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
		for (i = 0; i < nvips; i++) {
			printf("%s{\"address\":\"%s/%u\",\"interface\":",
			    i ? "," : "", addr_str(&vips[i].addr, buf,
			    sizeof(buf)), vips[i].prefixlen);
			json_str(vips[i].ifname);
			printf(",\"bound\":%s}", vips[i].bound ? "true" :
			    "false");
		}
		printf("],\"nodes\":[");
		for (i = 0; i < nnodes; i++) {
			printf("%s{\"node\":", i ? "," : "");
			json_str(nodes[i].node);
			printf(",\"role\":");
			json_str(role_name(nodes[i].role));
			printf(",\"seen_ms_ago\":");
			json_int(nodes[i].seen_ms_ago);
			printf("}");
		}
		printf("],\"sync\":{\"last_ok\":");
		json_time(st->sync_last_ok);
		printf(",\"last_error\":");
		json_strn(st->sync_last_error);
		printf(",\"files\":%llu,\"bytes\":%llu,\"skipped\":%llu,"
		    "\"peers\":[", (unsigned long long)st->sync_files,
		    (unsigned long long)st->sync_bytes,
		    (unsigned long long)st->sync_skipped);
		for (i = 0; i < npeers; i++) {
			printf("%s{\"node\":", i ? "," : "");
			json_str(peers[i].node);
			printf(",\"state\":");
			json_str(peers[i].state);
			printf(",\"last_ok\":");
			json_time(peers[i].last_ok);
			printf(",\"error\":");
			json_strn(peers[i].error);
			printf("}");
		}
		printf("],\"attic\":[");
		for (i = 0; i < nattics; i++)
			printf("%s{\"epoch\":%lld,\"files\":%llu}",
			    i ? "," : "", (long long)attics[i].epoch,
			    (unsigned long long)attics[i].files);
		printf("]}");
		printf(",\"fault\":");
		json_strn(st->fault);
		printf("}\n");
		return;
	}

	printf("node %s, cluster %s\n", st->node, st->cluster);
	printf("role:       %s\n", role_name(st->role));
	if (st->epoch < 0)
		printf("epoch:      -\n");
	else
		printf("epoch:      %lld\n", (long long)st->epoch);
	printf("holder:     %s\n", or_dash(st->holder));
	if (st->lease_left_ms < 0)
		printf("lease left: -\n");
	else
		printf("lease left: %lld ms\n", (long long)st->lease_left_ms);
	printf("database:   %s\n", st->db_up ? "up" : "down");
	printf("fault:      %s\n", or_dash(st->fault));
	printf("nodes:%s\n", nnodes ? "" : "      -");
	for (i = 0; i < nnodes; i++) {
		printf("  %-20s %-12s ", nodes[i].node,
		    role_name(nodes[i].role));
		if (nodes[i].seen_ms_ago < 0)
			printf("never seen\n");
		else
			printf("seen %lld ms ago\n",
			    (long long)nodes[i].seen_ms_ago);
	}
	printf("vips:%s\n", nvips ? "" : "       -");
	for (i = 0; i < nvips; i++)
		printf("  %s/%u on %s: %s\n", addr_str(&vips[i].addr, buf,
		    sizeof(buf)), vips[i].prefixlen, vips[i].ifname,
		    vips[i].bound ? "bound" : "not bound");
	{
		char		 tbuf[64] = "never";
		time_t		 t = st->sync_last_ok;
		struct tm	 tm;

		if (st->sync_last_ok >= 0) {
			gmtime_r(&t, &tm);
			strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ",
			    &tm);
		}
		printf("sync:       last ok %s, last error %s, %llu files, "
		    "%llu bytes", tbuf, or_dash(st->sync_last_error),
		    (unsigned long long)st->sync_files,
		    (unsigned long long)st->sync_bytes);
		if (st->sync_skipped > 0)
			printf(", %llu skipped (not a file, directory or "
			    "symlink)", (unsigned long long)st->sync_skipped);
		printf("\n");
	}
	for (i = 0; i < npeers; i++)
		printf("  %-20s %-12s %s\n", peers[i].node, peers[i].state,
		    or_dash(peers[i].error));
	printf("attic:%s", nattics ? "" : "      -");
	for (i = 0; i < nattics; i++)
		printf("%s epoch %lld (%llu files)", i ? "," : "",
		    (long long)attics[i].epoch,
		    (unsigned long long)attics[i].files);
	printf("\n");
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
	struct ctl_status	 st;
	struct ctl_status_vip	 vips[64];
	struct ctl_status_node	 nodes[64];
	struct ctl_status_peer	 peers[MAX_SYNC_PEERS];
	struct ctl_status_attic	 attics[MAX_ATTICS];
	struct pollfd		 pfd;
	const char		*sockpath = CONTROL_SOCKET, *errstr;
	ssize_t			 n;
	int			 ch, json = 0, nvips = 0, nnodes = 0, done = 0;
	int			 rc = 0, have_status = 0, timeout, npeers = 0;
	int			 nattics = 0;
	struct history_line_msg	 hl;

	while ((ch = getopt(argc, argv, "+s:")) != -1) {
		switch (ch) {
		case 's':
			sockpath = optarg;
			break;
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
		if (argc == 3 && strcmp(argv[1], "-n") == 0) {
			req.value = strtonum(argv[2], 1, 100000, &errstr);
			if (errstr != NULL)
				errx(1, "history -n %s: %s", argv[2], errstr);
		} else if (argc != 1)
			ctl_usage();
		break;
	case A_LOG:
		if (argc != 2)
			ctl_usage();
		if (strcmp(argv[1], "verbose") == 0)
			req.value = 1;
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
					printf("%s\n", res.msg);
				done = 1;
				break;
			case IMSG_CTL_STATUS:
				if (imsg_get_data(&imsg, &st, sizeof(st)) ==
				    -1 || !STR_OK(st.node) ||
				    !STR_OK(st.cluster) || !STR_OK(st.holder) ||
				    !STR_OK(st.fault) ||
				    !STR_OK(st.sync_last_error))
					errx(1, "bad answer");
				have_status = 1;
				break;
			case IMSG_CTL_STATUS_VIP:
				if (nvips >= (int)(sizeof(vips) /
				    sizeof(vips[0])))
					break;
				if (imsg_get_data(&imsg, &vips[nvips],
				    sizeof(vips[0])) == -1 ||
				    !STR_OK(vips[nvips].ifname))
					errx(1, "bad answer");
				nvips++;
				break;
			case IMSG_CTL_STATUS_NODE:
				if (nnodes >= (int)(sizeof(nodes) /
				    sizeof(nodes[0])))
					break;
				if (imsg_get_data(&imsg, &nodes[nnodes],
				    sizeof(nodes[0])) == -1 ||
				    !STR_OK(nodes[nnodes].node))
					errx(1, "bad answer");
				nnodes++;
				break;
			case IMSG_CTL_STATUS_PEER:
				if (npeers >= MAX_SYNC_PEERS)
					break;
				if (imsg_get_data(&imsg, &peers[npeers],
				    sizeof(peers[0])) == -1 ||
				    !STR_OK(peers[npeers].node) ||
				    !STR_OK(peers[npeers].state) ||
				    !STR_OK(peers[npeers].error))
					errx(1, "bad answer");
				npeers++;
				break;
			case IMSG_CTL_STATUS_ATTIC:
				if (nattics >= MAX_ATTICS)
					break;
				if (imsg_get_data(&imsg, &attics[nattics],
				    sizeof(attics[0])) == -1)
					errx(1, "bad answer");
				nattics++;
				break;
			case IMSG_HISTORY_LINE:
				if (imsg_get_data(&imsg, &hl, sizeof(hl)) ==
				    -1 || !STR_OK(hl.line))
					errx(1, "bad answer");
				printf("%s\n", hl.line);
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
	if (have_status)
		print_status(&st, vips, nvips, nodes, nnodes, peers, npeers,
		    attics, nattics, json);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return (rc);
}
