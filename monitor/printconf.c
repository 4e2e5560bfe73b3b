/*
 * The normalised configuration of "failoverd -nv": every setting, defaults
 * included, in the order of the example, macros expanded, secrets
 * replaced; it parses again to the same text.
 */

#include <sys/types.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failoverd.h"
#include "log.h"
#include "monitor.h"
#include "util.h"

static void	 print_str(FILE *, const char *);
static void	 print_database(FILE *, const char *);
static void	 print_fixed(FILE *, struct fo_conf *);
static void	 print_sync_dirs(FILE *, struct conf_sync *);
static void	 print_reloadable(FILE *, struct fo_conf *);

static void
print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static const char *
dur(uint32_t ms)
{
	static char	 buf[8][16];
	static int	 i;

	i = (i + 1) % 8;
	return (duration_str(ms, buf[i], sizeof(buf[i])));
}

/* Rebuild the conninfo as key=value pairs, the password replaced. */
static void
print_database(FILE *f, const char *ci)
{
	PQconninfoOption	*opts, *o;
	char			*buf;
	const char		*val, *s;
	size_t			 len;
	FILE			*m;
	int			 first = 1;

	if ((opts = PQconninfoParse(ci, NULL)) == NULL) {
		print_str(f, REDACTED);
		return;
	}
	if ((m = open_memstream(&buf, &len)) == NULL)
		fatal("open_memstream");
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		val = strcmp(o->keyword, "password") == 0 ? REDACTED : o->val;
		fprintf(m, "%s%s=", first ? "" : " ", o->keyword);
		first = 0;
		if (val[0] != '\0' && strpbrk(val, " \t\n'\\") == NULL) {
			fputs(val, m);
			continue;
		}
		fputc('\'', m);
		for (s = val; *s != '\0'; s++) {
			if (*s == '\'' || *s == '\\')
				fputc('\\', m);
			fputc(*s, m);
		}
		fputc('\'', m);
	}
	fclose(m);
	PQconninfoFree(opts);
	print_str(f, buf);
	explicit_bzero(buf, len);
	free(buf);
}

static void
print_cmd(FILE *f, const char *kw, struct conf_cmd *c)
{
	if (c == NULL)
		return;
	fprintf(f, "%s ", kw);
	print_str(f, c->line);
	fprintf(f, " timeout %s\n", dur(c->timeout));
}

/* What a reload may not change. */
static void
print_fixed(FILE *f, struct fo_conf *conf)
{
	struct conf_node	*n;
	struct conf_vip		*v;
	struct conf_hostname	*h;
	struct conf_sync	*s;
	char			 buf[ADDR_STRLEN];
	int			 i;

	fprintf(f, "cluster ");
	print_str(f, conf->cluster);
	fputc('\n', f);
	TAILQ_FOREACH(n, &conf->nodes, entry) {
		fprintf(f, "node ");
		print_str(f, n->name);
		fprintf(f, " { address %s", addr_str(&n->addr, buf,
		    sizeof(buf)));
		for (i = 0; i < n->npubkeys; i++) {
			fprintf(f, " public-key ");
			print_str(f, n->pubkey_b64[i]);
		}
		fprintf(f, " priority %u", n->priority);
		if (n->port != 0)
			fprintf(f, " port %u", n->port);
		fprintf(f, " }\n");
	}
	fprintf(f, "database ");
	print_database(f, conf->database);
	fputc('\n', f);
	fprintf(f, "heartbeat interval %s dead %s margin %s slack %s "
	    "timeout %s\n", dur(conf->timing.interval), dur(conf->timing.dead),
	    dur(conf->timing.margin), dur(conf->timing.slack),
	    dur(conf->timing.timeout));
	if (conf->preempt)
		fprintf(f, "preempt yes delay %s\n", dur(conf->preempt_delay));
	else
		fprintf(f, "preempt no\n");
	TAILQ_FOREACH(v, &conf->vips, entry) {
		fprintf(f, "vip %s/%d interface ", addr_str(&v->addr, buf,
		    sizeof(buf)), v->prefixlen);
		print_str(f, v->ifname);
		if (v->label[0] != '\0') {
			fprintf(f, " label ");
			print_str(f, v->label);
		}
		fputc('\n', f);
	}
	fprintf(f, "garp type %s count %u interval %s refresh %s\n",
	    conf->garp_type == GARP_REPLY ? "reply" : "request",
	    conf->garp_count, dur(conf->garp_interval),
	    conf->garp_refresh ? dur(conf->garp_refresh) : "off");
	if (conf->probe)
		fprintf(f, "probe wait %s\n", dur(conf->probe_wait));
	else
		fprintf(f, "probe no\n");
	if ((h = conf->hostname) != NULL) {
		fprintf(f, "hostname ");
		print_str(f, h->name);
		fprintf(f, " {\n\tserver %s port %u zone ",
		    addr_str(&h->server, buf, sizeof(buf)), h->port);
		print_str(f, h->zone);
		fprintf(f, " ttl %u\n\tkey ", h->ttl);
		print_str(f, h->keyname);
		if (h->secret != NULL) {
			fprintf(f, " secret ");
			print_str(f, REDACTED);
		} else {
			fprintf(f, " secret-file ");
			print_str(f, h->secret_file);
		}
		fprintf(f, " algorithm %s\n}\n", h->algorithm);
	}
	if ((s = conf->sync) != NULL) {
		fprintf(f, "sync {\n\tlisten on %s port %u\n\tkey-file ",
		    addr_str(&s->listen, buf, sizeof(buf)), s->port);
		print_str(f, s->key_file);
		fprintf(f, "\n\tuser ");
		print_str(f, s->user);
		fprintf(f, "\n\tinterval %s delay %s max-delete %u%% "
		    "alert-after %s\n\tattic keep %u\n", dur(s->interval),
		    dur(s->delay), s->max_delete, dur(s->alert_after),
		    s->attic_keep);
	}
}

static void
print_sync_dirs(FILE *f, struct conf_sync *s)
{
	struct conf_dir		*d;
	struct conf_pattern	*p;

	TAILQ_FOREACH(d, &s->dirs, entry) {
		fprintf(f, "\tdirectory ");
		print_str(f, d->path);
		TAILQ_FOREACH(p, &d->excludes, entry) {
			fprintf(f, " exclude ");
			print_str(f, p->pattern);
		}
		fputc('\n', f);
	}
}

static void
print_control(FILE *f, struct fo_conf *conf)
{
	fprintf(f, "control socket ");
	print_str(f, conf->ctl_socket);
	fprintf(f, " group ");
	print_str(f, conf->ctl_group);
	fputc('\n', f);
}

/* What a reload may change: hooks, check, alerts (and sync directories). */
static void
print_reloadable(FILE *f, struct fo_conf *conf)
{
	struct conf_alert	*a;
	char			 buf[ADDR_STRLEN];

	fprintf(f, "script-user ");
	print_str(f, conf->script_user);
	fputc('\n', f);
	print_cmd(f, "on-active", conf->on_active);
	print_cmd(f, "on-standby", conf->on_standby);
	print_cmd(f, "on-fault", conf->on_fault);
	if (conf->check != NULL) {
		fprintf(f, "check ");
		print_str(f, conf->check->line);
		fprintf(f, " interval %s fall %u rise %u\n",
		    dur(conf->check->interval), conf->check->fall,
		    conf->check->rise);
	}
	TAILQ_FOREACH(a, &conf->alerts, entry) {
		if (a->type == ALERT_MAIL) {
			fprintf(f, "alert mail to ");
			print_str(f, a->to);
			fprintf(f, " from ");
			print_str(f, a->from);
			fprintf(f, " via %s port %u\n", addr_str(&a->via, buf,
			    sizeof(buf)), a->port);
		} else {
			fprintf(f, "alert command ");
			print_str(f, a->cmd.line);
			fputc('\n', f);
		}
	}
}

void
printconf(FILE *f, struct fo_conf *conf)
{
	print_fixed(f, conf);
	if (conf->sync != NULL) {
		print_sync_dirs(f, conf->sync);
		fprintf(f, "}\n");
	}
	print_control(f, conf);
	print_reloadable(f, conf);
}

/* One part as a string, to compare an old and a new configuration. */
char *
printconf_part(struct fo_conf *conf, int part)
{
	char	*buf;
	size_t	 len;
	FILE	*f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		fatal("open_memstream");
	if (part == PART_FIXED) {
		print_fixed(f, conf);
		print_control(f, conf);
	} else {
		if (conf->sync != NULL)
			print_sync_dirs(f, conf->sync);
		print_reloadable(f, conf);
	}
	fclose(f);
	return (buf);
}
