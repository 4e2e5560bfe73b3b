/*
 * dnsd: the virtual hostname (failoverd(8), "Virtual hostname").  On becoming active
 * the monitor asks for an update: an RFC 2136 UPDATE of the name to this
 * node's address, signed with TSIG hmac-sha256, to the zone's primary
 * server over UDP (TCP when the reply is truncated).  The reply counts
 * only when its MAC verifies, except the unsigned BADSIG and BADKEY a
 * server sends when it cannot check ours.  No answer: retried with
 * backoff until done or told to stop (demoted).  The result, with the
 * exact cause, goes to the monitor.  While active, the name is checked
 * every `ttl' (an UPDATE with only a prerequisite) and updated again
 * when it points elsewhere, so a late UPDATE of a demoted node cannot
 * leave the name on it.
 *
 * Runs as _failoverd in the empty chroot with no capabilities; the
 * secret lives only in its memory.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "failoverd.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "timer.h"
#include "util.h"

#define TRY_TIMEOUT	2000	/* ms for an answer */
#define BACKOFF_MAX	30000

static struct imsgbuf		 ibuf_main;
static struct conf_dns_msg	 dconf;
static struct dns_key		 key;
static int			 conf_state;

static struct {			/* the update or check under way */
	int		 want;		/* active: the name is ours to keep */
	int		 check;		/* the next attempt is a check */
	int64_t		 epoch;
	int		 fd;		/* the attempt's socket */
	int		 tcp;
	uint16_t	 id;
	uint8_t		 mac[DNS_MACLEN];
	uint8_t		 msg[DNS_MAXMSG + 2];
	size_t		 msglen;
	uint8_t		 in[DNS_MAXMSG + 2];
	size_t		 inlen;
	size_t		 outoff;
	uint64_t	 deadline;	/* of the attempt, or the next one */
	uint32_t	 backoff;
	char		 last[FAULT_LEN];
} upd = { .fd = -1 };

static void	 dnsd_dispatch(void);

static void
result(int ok, const char *fmt, ...)
{
	struct dns_result_msg	 o;
	va_list			 ap;

	memset(&o, 0, sizeof(o));
	o.ok = ok;
	va_start(ap, fmt);
	vsnprintf(o.reason, sizeof(o.reason), fmt, ap);
	va_end(ap);
	if (ok)
		log_notice("%s", o.reason);
	else if (strcmp(o.reason, upd.last) != 0)
		log_warnx("%s", o.reason);
	strlcpy(upd.last, ok ? "" : o.reason, sizeof(upd.last));
	imsg_compose(&ibuf_main, IMSG_DNS_RESULT, 0, 0, -1, &o, sizeof(o));
}

static void
attempt_close(void)
{
	if (upd.fd != -1)
		close(upd.fd);
	upd.fd = -1;
}

/* The next attempt after the backoff; the current one is over. */
static void
retry_later(void)
{
	attempt_close();
	upd.deadline = timer_now() + upd.backoff;
	upd.backoff = upd.backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
	    upd.backoff * 2;
}

static void
attempt(int tcp)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	size_t			 n;

	attempt_close();
	upd.tcp = tcp;
	upd.id = randombytes_uniform(65536);
	if (upd.check)
		n = dns_check(upd.msg + 2, DNS_MAXMSG, upd.id, dconf.zone,
		    dconf.name, &dconf.addr);
	else
		n = dns_update(upd.msg + 2, DNS_MAXMSG, upd.id, dconf.zone,
		    dconf.name, &dconf.addr, dconf.ttl);
	if (n == 0 || (n = dns_tsig_sign(upd.msg + 2, n, DNS_MAXMSG, &key,
	    (uint64_t)time(NULL), upd.mac)) == 0)
		fatalx("cannot build the update of %s", dconf.name);
	upd.msg[0] = n >> 8;
	upd.msg[1] = n;
	upd.msglen = n;
	upd.inlen = 0;
	upd.outoff = 0;
	memset(&ss, 0, sizeof(ss));
	if (dconf.server.af == AF_INET6) {
		struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = dconf.server.a.v6;
		s6->sin6_port = htons(dconf.port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = dconf.server.a.v4;
		s4->sin_port = htons(dconf.port);
		sl = sizeof(*s4);
	}
	if ((upd.fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    (connect(upd.fd, (struct sockaddr *)&ss, sl) == -1 &&
	    errno != EINPROGRESS)) {
		result(0, "dns: %s: %s", dconf.name, strerror(errno));
		retry_later();
		return;
	}
	if (!tcp && send(upd.fd, upd.msg + 2, upd.msglen, 0) == -1) {
		result(0, "dns: %s: send: %s", dconf.name, strerror(errno));
		retry_later();
		return;
	}
	upd.deadline = timer_now() + TRY_TIMEOUT;
	log_debug("%s %s -> %s sent (%s, id %u)", upd.check ? "check" :
	    "update", dconf.name,
	    addr_str(&dconf.addr, (char [ADDR_STRLEN]){ 0 }, ADDR_STRLEN),
	    tcp ? "tcp" : "udp", upd.id);
}

/* A whole reply in buf: what it says, trusted only when it verifies. */
static void
reply(const uint8_t *buf, size_t len)
{
	struct dns_reply	 r;
	char			 err[128], a[ADDR_STRLEN];
	int			 verified;

	if (dns_parse_reply(buf, len, &key, &r, err, sizeof(err)) == -1) {
		log_warnx("update of %s: malformed reply: %s", dconf.name, err);
		return;			/* not trusted: wait on */
	}
	if (r.id != upd.id || !r.qr || r.opcode != 5)
		return;			/* not the answer to ours */
	if (r.tc && !upd.tcp) {
		log_info("update of %s: reply truncated, again over TCP",
		    dconf.name);
		attempt(1);
		return;
	}
	verified = dns_tsig_verify(buf, len, &r, &key, upd.mac);
	if (r.has_tsig && (r.tsig_error == DNS_BADSIG ||
	    r.tsig_error == DNS_BADKEY) && r.maclen == 0) {
		/* the server could not check ours, so it cannot sign */
		result(0, "dns: %s: the server answers %s (key \"%s\"): "
		    "%s", dconf.name, dns_rcode_str(r.tsig_error), key.name,
		    r.tsig_error == DNS_BADSIG ? "the secret differs" :
		    "the server does not know the key");
		retry_later();
		return;
	}
	if (!verified) {
		log_warnx("update of %s: reply with a %s MAC ignored",
		    dconf.name, r.has_tsig ? "bad" : "missing");
		return;
	}
	if (r.tsig_error == DNS_BADTIME) {
		result(0, "dns: %s: BADTIME: this clock and the server's "
		    "differ by %lld s, more than the fudge of %u s", dconf.name,
		    r.has_other_time ? (long long)r.other_time -
		    (long long)time(NULL) : 0LL, DNS_FUDGE);
		retry_later();
		return;
	}
	if (upd.check && (r.rcode == DNS_NXRRSET || r.rcode == DNS_NXDOMAIN)) {
		log_warnx("dns: %s no longer points to %s: updating it again",
		    dconf.name, addr_str(&dconf.addr, a, sizeof(a)));
		upd.check = 0;
		upd.backoff = 1000;
		attempt(0);
		return;
	}
	switch (r.rcode) {
	case DNS_NOERROR:
		attempt_close();
		if (!upd.check)
			result(1, "dns: %s -> %s (epoch %lld)", dconf.name,
			    addr_str(&dconf.addr, a, sizeof(a)),
			    (long long)upd.epoch);
		else
			log_debug("dns: %s still points here", dconf.name);
		/* watched while active: checked again in a TTL */
		upd.check = 1;
		upd.backoff = 1000;
		upd.deadline = timer_now() + (uint64_t)
		    (dconf.ttl ? dconf.ttl : 1) * 1000;
		return;
	case DNS_REFUSED:
		result(0, "dns: %s: REFUSED: the server does not allow "
		    "key \"%s\" to update %s in zone %s", dconf.name, key.name,
		    dconf.name, dconf.zone);
		break;
	case DNS_NOTAUTH:
		result(0, "dns: %s: NOTAUTH: the server is not "
		    "authoritative for zone %s", dconf.name, dconf.zone);
		break;
	default:
		result(0, "dns: %s: the server answers %s", dconf.name,
		    dns_rcode_str(r.rcode));
		break;
	}
	retry_later();
}

static void
input(void)
{
	static uint8_t	 msgbuf[DNS_MAXMSG];
	ssize_t		 n;
	size_t		 want;

	if (!upd.tcp) {
		if ((n = recv(upd.fd, upd.in, sizeof(upd.in), 0)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			result(0, "dns: %s: %s", dconf.name, strerror(errno));
			retry_later();
			return;
		}
		reply(upd.in, n);
		return;
	}
	if ((n = read(upd.fd, upd.in + upd.inlen, sizeof(upd.in) -
	    upd.inlen)) <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		result(0, "dns: %s: %s", dconf.name, n == 0 ?
		    "the server closed the connection" : strerror(errno));
		retry_later();
		return;
	}
	upd.inlen += n;
	/* each whole message once, then it is gone from the buffer: one
	 * that is not ours (or malformed) is not read again and again */
	while (upd.fd != -1 && upd.tcp && upd.inlen >= 2) {
		want = (size_t)upd.in[0] << 8 | upd.in[1];
		if (want > sizeof(upd.in) - 2) {
			result(0, "dns: %s: a reply of %zu bytes over TCP, "
			    "more than %zu", dconf.name, want,
			    sizeof(upd.in) - 2);
			retry_later();
			return;
		}
		if (upd.inlen < 2 + want)
			return;
		memcpy(msgbuf, upd.in + 2, want);
		upd.inlen -= 2 + want;
		memmove(upd.in, upd.in + 2 + want, upd.inlen);
		reply(msgbuf, want);
	}
}

static void
output(void)
{
	ssize_t	 n;

	if ((n = write(upd.fd, upd.msg + upd.outoff, upd.msglen + 2 -
	    upd.outoff)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		result(0, "dns: %s: %s", dconf.name, strerror(errno));
		retry_later();
		return;
	}
	upd.outoff += n;
}

void
dnsd_main(int debug, int verbose)
{
	struct pollfd	 pfd[2];
	uint64_t	 now;
	int		 n, timeout;

	log_init(debug, verbose);
	log_procinit(proc_name(PROC_DNS));
	if (sodium_init() == -1)
		fatalx("sodium_init");
	/* privileges go before the first message is read, as in the others */
	proc_drop(PROC_DNS, FAILOVERD_USER, EMPTY_DIR, 0);
	sandbox_seccomp(PROC_DNS);
	if (imsgbuf_init(&ibuf_main, CHILD_FD) == -1)
		fatal("imsgbuf_init");
	while (conf_state != 2)
		dnsd_dispatch();
	if (fcntl(CHILD_FD, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	imsg_compose(&ibuf_main, IMSG_READY, 0, 0, -1, NULL, 0);

	for (;;) {
		proc_pollfd(&pfd[0], &ibuf_main);
		pfd[1].fd = upd.fd;
		pfd[1].events = POLLIN;
		if (upd.fd != -1 && upd.tcp && upd.outoff < upd.msglen + 2)
			pfd[1].events |= POLLOUT;
		n = 2;
		timeout = -1;
		if (upd.want) {
			now = timer_now();
			timeout = upd.deadline > now ?
			    (int)(upd.deadline - now) : 0;
		}
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		proc_pollio(&pfd[0], &ibuf_main, dnsd_dispatch);
		if (upd.want && upd.fd != -1 && (pfd[1].revents & POLLOUT))
			output();
		if (upd.want && upd.fd != -1 &&
		    (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			input();
		if (upd.want && timer_now() >= upd.deadline) {
			if (upd.fd != -1) {
				result(0, "dns: %s: no answer from the server "
				    "within %u ms; trying again", dconf.name,
				    TRY_TIMEOUT);
				retry_later();
			} else
				attempt(0);
		}
	}
}

static void
dnsd_dispatch(void)
{
	struct imsg		 imsg;
	struct dns_update_msg	 um;
	ssize_t			 n;

	proc_read(&ibuf_main);
	for (;;) {
		if ((n = imsg_get(&ibuf_main, &imsg)) == -1)
			fatal("imsg_get");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_CONF_DNS:
			if (conf_state != 0 || imsg_get_data(&imsg, &dconf,
			    sizeof(dconf)) == -1 || dconf.secretlen == 0 ||
			    dconf.secretlen > DNS_KEY_LEN || dconf.port == 0 ||
			    (dconf.server.af != AF_INET &&
			    dconf.server.af != AF_INET6) ||
			    (dconf.addr.af != AF_INET &&
			    dconf.addr.af != AF_INET6) || !STR_OK(dconf.name) ||
			    !STR_OK(dconf.zone) || !STR_OK(dconf.keyname))
				fatalx("bad IMSG_CONF_DNS");
			if (dconf.name[0] == '\0' || dconf.zone[0] == '\0' ||
			    dconf.keyname[0] == '\0')
				fatalx("bad IMSG_CONF_DNS: empty name");
			strlcpy(key.name, dconf.keyname, sizeof(key.name));
			memcpy(key.secret, dconf.secret, dconf.secretlen);
			key.len = dconf.secretlen;
			sodium_memzero(dconf.secret, sizeof(dconf.secret));
			conf_state = 1;
			break;
		case IMSG_CONF_END:
			if (conf_state != 1 || imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_CONF_END");
			conf_state = 2;
			break;
		case IMSG_DNS_UPDATE:
			if (conf_state != 2 || imsg_get_data(&imsg, &um,
			    sizeof(um)) == -1)
				fatalx("bad IMSG_DNS_UPDATE");
			upd.want = 1;
			upd.check = 0;
			upd.epoch = um.epoch;
			upd.backoff = 1000;
			upd.last[0] = '\0';
			attempt(0);
			break;
		case IMSG_DNS_STOP:
			if (conf_state != 2 || imsg_get_len(&imsg) != 0)
				fatalx("bad IMSG_DNS_STOP");
			if (upd.want)
				log_info("update of %s stopped", dconf.name);
			upd.want = 0;
			attempt_close();
			break;
		case IMSG_LOG_VERBOSE:
			proc_log_verbose(&imsg);
			break;
		case IMSG_PING:
			proc_pong(&imsg, &ibuf_main);
			break;
		default:
			fatalx("unexpected message %u", imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
}
