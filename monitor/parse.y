/*
 * The configuration grammar of failoverd.conf(5): a keyword table,
 * macros, include files and durations.  What the file means as a whole
 * is checked by config.c once the grammar accepted it.
 */

%{
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "log.h"
#include "monitor.h"
#include "util.h"

#define MAX_INCLUDE	8

static TAILQ_HEAD(files, file)	 files = TAILQ_HEAD_INITIALIZER(files);
static struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;
	char			*name;
	int			 lineno;
	int			 errors;
	int			 depth;		/* braces open */
	int			 secret_ok;	/* 0600 or 0400 */
} *file, *topfile;

struct sym {
	TAILQ_ENTRY(sym)	 entry;
	char			*nam;
	char			*val;
	char			*file;		/* that defined it */
	int			 secret_ok;	/* that file is 0600 or 0400 */
};
static TAILQ_HEAD(symhead, sym)	 symhead = TAILQ_HEAD_INITIALIZER(symhead);

static struct file	*pushfile(const char *, int);
static int		 popfile(void);
static int		 yyparse(void);
static int		 yylex(void);
static int		 yyerror(const char *, ...)
			    __attribute__((__format__ (printf, 1, 2)));
static int		 yywarn(const char *, ...)
			    __attribute__((__format__ (printf, 1, 2)));
static int		 kw_cmp(const void *, const void *);
static int		 lookup(char *);
static int		 lgetc(int);
static int		 lungetc(int);
static int		 findeol(void);
static int		 symset(const char *, const char *);
static char		*symget(const char *);
static void		 symclear(void);

static void		 where_set(struct conf_where *);
static int		 cmd_split(struct conf_cmd *, char *);
static int		 check_secret_here(const char *, const char *, int);
static int		 conninfo_has_password(const char *);
static int		 conninfo_check_hostaddr(const char *);
static void		*xcalloc(size_t, size_t);
static char		*xstrdup(const char *);

static struct fo_conf	*conf;
static struct conf_node	*cur_node;
static struct conf_dir	*cur_dir;
static struct conf_alert *cur_alert;
static struct conf_cmd	*cur_cmd;
static int		 conf_flags;
static int		 garp_count_set, hostname_seen, sync_seen;

typedef struct {
	union {
		long long		 number;
		char			*string;
		uint32_t		 duration;
	} v;
	int lineno;
} YYSTYPE;

%}

%token	ADDRESS ALERT ALGORITHM CHECK CLUSTER COMMAND CONTROL COUNT DATABASE
%token	ALERTAFTER ATTIC DEAD DELAY DIRECTORY EXCLUDE FALL FROM GARP GROUP
%token	HEARTBEAT HOSTNAME
%token	INCLUDE INTERFACE INTERVAL KEEP KEY KEYFILE LABEL LISTEN MAIL MARGIN
%token	MAXDELETE NO NODE OFF ON ONACTIVE ONFAULT ONSTANDBY PORT PREEMPT
%token	PRIORITY PROBE PUBLICKEY REFRESH REPLY REQUEST RISE SCRIPTUSER SECRET
%token	SECRETFILE SERVER SLACK SOCKET SYNC TIMEOUT TO TTL TYPE USER VIA VIP
%token	WAIT YES ZONE
%token	ERROR
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.duration>	duration
%type	<v.number>	port

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar error '\n'		{ file->errors++; }
		;

include		: INCLUDE STRING		{
			struct file	*nfile;
			char		*path, *dir, *copy;

			if ($2[0] != '/') {
				if ((copy = strdup(file->name)) == NULL)
					fatal(NULL);
				dir = dirname(copy);
				if (asprintf(&path, "%s/%s", dir, $2) == -1)
					fatal(NULL);
				free(copy);
			} else
				path = xstrdup($2);
			free($2);
			if ((nfile = pushfile(path, 1)) == NULL) {
				free(path);
				YYERROR;
			}
			free(path);
			file = nfile;
			lungetc('\n');
		}
		;

varset		: STRING '=' STRING		{
			char	*s;

			for (s = $1; *s != '\0'; s++)
				if (!isalnum((unsigned char)*s) && *s != '_') {
					yyerror("macro name %s: only letters, "
					    "digits and _", $1);
					free($1);
					free($3);
					YYERROR;
				}
			if (symset($1, $3) == -1)
				fatal("cannot store variable");
			free($1);
			free($3);
		}
		;

duration	: STRING			{
			if (duration_parse($1, &$$) == -1) {
				yyerror("%s: not a duration (a whole number "
				    "with ms, s or m)", $1);
				free($1);
				YYERROR;
			}
			free($1);
		}
		| NUMBER			{
			yyerror("%lld: a duration needs a unit (ms, s or m)",
			    $1);
			YYERROR;
		}
		;

port		: NUMBER			{
			if ($1 < 1 || $1 > 65535) {
				yyerror("port %lld out of range 1-65535", $1);
				YYERROR;
			}
			$$ = $1;
		}
		;

main		: CLUSTER STRING		{
			if (conf->cluster[0] != '\0') {
				yyerror("cluster given twice");
				free($2);
				YYERROR;
			}
			if ($2[0] == '\0' || strlcpy(conf->cluster, $2,
			    sizeof(conf->cluster)) >= sizeof(conf->cluster)) {
				yyerror("cluster name empty or longer than "
				    "%d bytes", NAME_LEN - 1);
				free($2);
				YYERROR;
			}
			free($2);
		}
		| NODE STRING			{
			struct conf_node	*n;
			const char		*s;

			for (s = $2; *s != '\0'; s++)
				if (!isalnum((unsigned char)*s) && *s != '-' &&
				    *s != '_' && *s != '.')
					break;
			if ($2[0] == '\0' || *s != '\0' ||
			    strlen($2) >= NAME_LEN) {
				yyerror("node name \"%s\": letters, digits, "
				    "'.', '-' and '_', at most %d bytes", $2,
				    NAME_LEN - 1);
				free($2);
				YYERROR;
			}
			TAILQ_FOREACH(n, &conf->nodes, entry)
				if (strcmp(n->name, $2) == 0) {
					yyerror("node \"%s\" defined twice "
					    "(first on line %d)", $2,
					    n->lineno);
					free($2);
					YYERROR;
				}
			cur_node = xcalloc(1, sizeof(*cur_node));
			strlcpy(cur_node->name, $2, sizeof(cur_node->name));
			cur_node->priority = DEFAULT_PRIORITY;
			cur_node->lineno = file->lineno;
			free($2);
		} '{' nodeopts '}'		{
			if (!cur_node->addr_set) {
				yyerror("node \"%s\": no address",
				    cur_node->name);
				free(cur_node);
				cur_node = NULL;
				YYERROR;
			}
			TAILQ_INSERT_TAIL(&conf->nodes, cur_node, entry);
			cur_node = NULL;
		}
		| DATABASE STRING		{
			char	*err = NULL;
			PQconninfoOption *opts;

			if (conf->database != NULL) {
				yyerror("database given twice");
				free($2);
				YYERROR;
			}
			if ((opts = PQconninfoParse($2, &err)) == NULL) {
				yyerror("database: %s", err != NULL ?
				    strtok(err, "\n") : "out of memory");
				PQfreemem(err);
				free($2);
				YYERROR;
			}
			PQconninfoFree(opts);
			if (strlen($2) >= CONNINFO_LEN) {
				yyerror("database: longer than %d bytes",
				    CONNINFO_LEN - 1);
				free($2);
				YYERROR;
			}
			if (conninfo_check_hostaddr($2) == -1) {
				free($2);
				YYERROR;
			}
			if (conninfo_has_password($2) &&
			    check_secret_here("a database password", $2, 1) ==
			    -1) {
				free($2);
				YYERROR;
			}
			if (strstr($2, "hostaddr") == NULL &&
			    strstr($2, "host=") != NULL && strstr($2, "host=/")
			    == NULL)
				yywarn("database: no hostaddr: libpq looks the "
				    "host name up and blocks while it does");
			conf->database = $2;
		}
		| HEARTBEAT			{
			where_set(&conf->timing_where);
		} hbopts
		| PREEMPT NO			{ conf->preempt = 0; }
		| PREEMPT YES			{ conf->preempt = 1; }
		| PREEMPT YES DELAY duration	{
			conf->preempt = 1;
			conf->preempt_delay = $4;
		}
		| VIP STRING vipopts		{
			struct conf_vip	*v = TAILQ_LAST(&conf->vips, vipq);
			char		 buf[ADDR_STRLEN];

			if (addr_parse($2, &v->addr, &v->prefixlen) == -1) {
				yyerror("vip %s: not an IP address with an "
				    "optional /prefix", $2);
				free($2);
				YYERROR;
			}
			if (v->prefixlen == -1)
				v->prefixlen = v->addr.af == AF_INET ? 32 : 128;
			if (v->ifname[0] == '\0') {
				yyerror("vip %s: no interface", $2);
				free($2);
				YYERROR;
			}
			addr_str(&v->addr, buf, sizeof(buf));
			if (v->label[0] != '\0' && v->addr.af != AF_INET)
				yywarn("vip %s: a label applies to IPv4 only",
				    $2);
			if (v->label[0] != '\0' && strncmp(v->label, v->ifname,
			    strlen(v->ifname)) != 0) {
				yyerror("vip %s: label \"%s\" must start with "
				    "the interface name %s", $2, v->label,
				    v->ifname);
				free($2);
				YYERROR;
			}
			if (v->label[0] == '\0' && v->addr.af == AF_INET &&
			    strlen(v->ifname) + 3 < IFNAMSIZ)
				snprintf(v->label, sizeof(v->label), "%s:fo",
				    v->ifname);
			free($2);
			conf->nvips++;
		}
		| GARP garpopts
		| PROBE WAIT duration		{
			conf->probe = 1;
			conf->probe_wait = $3;
		}
		| PROBE NO			{ conf->probe = 0; }
		| HOSTNAME STRING		{
			if (hostname_seen++) {
				yyerror("hostname given twice");
				free($2);
				YYERROR;
			}
			conf->hostname = xcalloc(1, sizeof(*conf->hostname));
			conf->hostname->name = $2;
			conf->hostname->port = DEFAULT_DNS_PORT;
			conf->hostname->ttl = DEFAULT_DNS_TTL;
			conf->hostname->algorithm = xstrdup("hmac-sha256");
			where_set(&conf->hostname->where);
		} '{' hostopts '}'
		| SYNC				{
			if (sync_seen++) {
				yyerror("sync block given twice");
				YYERROR;
			}
			conf->sync = xcalloc(1, sizeof(*conf->sync));
			TAILQ_INIT(&conf->sync->dirs);
			conf->sync->listen.af = AF_INET;
			conf->sync->port = DEFAULT_SYNC_PORT;
			conf->sync->user = xstrdup(FAILOVERD_USER);
			conf->sync->interval = DEFAULT_SYNC_INTERVAL;
			conf->sync->delay = DEFAULT_SYNC_DELAY;
			conf->sync->max_delete = DEFAULT_MAX_DELETE;
			conf->sync->alert_after = DEFAULT_SYNC_ALERT;
			conf->sync->attic_keep = DEFAULT_ATTIC_KEEP;
			where_set(&conf->sync->where);
		} '{' syncopts '}'
		| CONTROL ctlopts
		| SCRIPTUSER STRING		{
			if (strcmp($2, FAILOVERD_USER) == 0) {
				yyerror("script-user %s: hooks must not run as "
				    "the user of the unprivileged processes",
				    $2);
				free($2);
				YYERROR;
			}
			free(conf->script_user);
			conf->script_user = $2;
			where_set(&conf->user_where);
		}
		| ONACTIVE STRING		{
			config_cmd_free(conf->on_active);
			cur_cmd = conf->on_active = xcalloc(1, sizeof(*cur_cmd));
			cur_cmd->timeout = DEFAULT_ACTIVE_TIMEOUT;
			if (cmd_split(cur_cmd, $2) == -1)
				YYERROR;
		} hooktimeout
		| ONSTANDBY STRING		{
			config_cmd_free(conf->on_standby);
			cur_cmd = conf->on_standby =
			    xcalloc(1, sizeof(*cur_cmd));
			cur_cmd->timeout = DEFAULT_STANDBY_TIMEOUT;
			if (cmd_split(cur_cmd, $2) == -1)
				YYERROR;
		} hooktimeout
		| ONFAULT STRING		{
			config_cmd_free(conf->on_fault);
			cur_cmd = conf->on_fault = xcalloc(1, sizeof(*cur_cmd));
			cur_cmd->timeout = DEFAULT_FAULT_TIMEOUT;
			if (cmd_split(cur_cmd, $2) == -1)
				YYERROR;
		} hooktimeout
		| CHECK STRING			{
			config_cmd_free(conf->check);
			cur_cmd = conf->check = xcalloc(1, sizeof(*cur_cmd));
			cur_cmd->interval = DEFAULT_CHECK_INTERVAL;
			cur_cmd->fall = DEFAULT_CHECK_FALL;
			cur_cmd->rise = DEFAULT_CHECK_RISE;
			if (cmd_split(cur_cmd, $2) == -1)
				YYERROR;
		} checkopts
		| ALERT MAIL			{
			cur_alert = xcalloc(1, sizeof(*cur_alert));
			cur_alert->type = ALERT_MAIL;
			cur_alert->via.af = AF_INET;
			cur_alert->via.a.v4.s_addr = htonl(INADDR_LOOPBACK);
			cur_alert->port = DEFAULT_SMTP_PORT;
		} mailopts			{
			if (cur_alert->to == NULL) {
				yyerror("alert mail: no \"to\" address");
				free(cur_alert->from);
				free(cur_alert);
				YYERROR;
			}
			TAILQ_INSERT_TAIL(&conf->alerts, cur_alert, entry);
		}
		| ALERT COMMAND STRING		{
			cur_alert = xcalloc(1, sizeof(*cur_alert));
			cur_alert->type = ALERT_COMMAND;
			if (cmd_split(&cur_alert->cmd, $3) == -1) {
				free(cur_alert);
				YYERROR;
			}
			TAILQ_INSERT_TAIL(&conf->alerts, cur_alert, entry);
		}
		;

nodeopts	: /* empty */
		| nodeopts nodeopt
		;

nodeopt		: ADDRESS STRING		{
			int	 prefix;

			if (addr_parse($2, &cur_node->addr, &prefix) == -1 ||
			    prefix != -1) {
				yyerror("node \"%s\": address %s is not an IP "
				    "address", cur_node->name, $2);
				free($2);
				YYERROR;
			}
			cur_node->addr_set = 1;
			free($2);
		}
		| PUBLICKEY STRING		{
			int	 i = cur_node->npubkeys;

			if (i >= MAX_PUBKEYS) {
				yyerror("node \"%s\": at most %d public keys",
				    cur_node->name, MAX_PUBKEYS);
				free($2);
				YYERROR;
			}
			if (key_b64_decode($2, cur_node->pubkey[i]) == -1) {
				yyerror("node \"%s\": public-key is not the "
				    "base64 of 32 bytes (see failoverctl "
				    "pubkey)", cur_node->name);
				free($2);
				YYERROR;
			}
			key_b64_encode(cur_node->pubkey[i],
			    cur_node->pubkey_b64[i]);
			cur_node->npubkeys++;
			free($2);
		}
		| PRIORITY NUMBER		{
			if ($2 < 0 || $2 > 255) {
				yyerror("priority %lld out of range 0-255", $2);
				YYERROR;
			}
			cur_node->priority = $2;
		}
		| PORT port			{ cur_node->port = $2; }
		;

hbopts		: hbopt
		| hbopts hbopt
		;

hbopt		: INTERVAL duration		{ conf->timing.interval = $2; }
		| DEAD duration			{ conf->timing.dead = $2; }
		| MARGIN duration		{ conf->timing.margin = $2; }
		| SLACK duration		{ conf->timing.slack = $2; }
		| TIMEOUT duration		{ conf->timing.timeout = $2; }
		;

vipopts		: /* empty */			{
			struct conf_vip	*v;

			v = xcalloc(1, sizeof(*v));
			TAILQ_INSERT_TAIL(&conf->vips, v, entry);
		}
		| vipopts vipopt
		;

vipopt		: INTERFACE STRING		{
			struct conf_vip	*v = TAILQ_LAST(&conf->vips, vipq);

			if ($2[0] == '\0' || strlcpy(v->ifname, $2,
			    sizeof(v->ifname)) >= sizeof(v->ifname)) {
				yyerror("interface \"%s\": empty or longer "
				    "than %d bytes", $2, IFNAMSIZ - 1);
				free($2);
				YYERROR;
			}
			free($2);
		}
		| LABEL STRING			{
			struct conf_vip	*v = TAILQ_LAST(&conf->vips, vipq);

			if ($2[0] == '\0' || strlcpy(v->label, $2,
			    sizeof(v->label)) >= sizeof(v->label)) {
				yyerror("label \"%s\": empty or longer than "
				    "%d bytes", $2, IFNAMSIZ - 1);
				free($2);
				YYERROR;
			}
			free($2);
		}
		;

garpopts	: garpopt
		| garpopts garpopt
		;

garpopt		: TYPE REQUEST			{ conf->garp_type = GARP_REQUEST; }
		| TYPE REPLY			{ conf->garp_type = GARP_REPLY; }
		| COUNT NUMBER			{
			if ($2 < 0 || $2 > 100) {
				yyerror("garp count %lld out of range 0-100",
				    $2);
				YYERROR;
			}
			conf->garp_count = $2;
			garp_count_set = 1;
		}
		| INTERVAL duration		{
			if ($2 < 10) {
				yyerror("garp interval must be at least 10ms");
				YYERROR;
			}
			conf->garp_interval = $2;
		}
		| REFRESH OFF			{ conf->garp_refresh = 0; }
		| REFRESH duration		{
			if ($2 < 1000) {
				yyerror("garp refresh must be off or at least "
				    "1s");
				YYERROR;
			}
			conf->garp_refresh = $2;
		}
		;

hostopts	: /* empty */
		| hostopts hostopt
		;

hostopt		: SERVER STRING			{
			int	 prefix;

			if (addr_parse($2, &conf->hostname->server, &prefix)
			    == -1 || prefix != -1) {
				yyerror("server %s is not an IP address", $2);
				free($2);
				YYERROR;
			}
			conf->hostname->server_set = 1;
			free($2);
		}
		| PORT port			{ conf->hostname->port = $2; }
		| ZONE STRING			{
			free(conf->hostname->zone);
			conf->hostname->zone = $2;
		}
		| TTL NUMBER			{
			if ($2 < 0 || $2 > 2147483647) {
				yyerror("ttl %lld out of range", $2);
				YYERROR;
			}
			conf->hostname->ttl = $2;
		}
		| KEY STRING			{
			free(conf->hostname->keyname);
			conf->hostname->keyname = $2;
		}
		| SECRET STRING			{
			uint8_t	 buf[512];
			size_t	 len;

			if (strcmp($2, REDACTED) == 0) {
				if (!(conf_flags & CONF_CHECKONLY)) {
					yyerror("secret is \"%s\": put the real "
					    "secret here", REDACTED);
					free($2);
					YYERROR;
				}
			} else if (sodium_base642bin(buf, sizeof(buf), $2,
			    strlen($2), NULL, &len, NULL,
			    sodium_base64_VARIANT_ORIGINAL) != 0 || len == 0) {
				yyerror("secret is not base64");
				free($2);
				YYERROR;
			} else if (check_secret_here("a TSIG secret", $2, 0) ==
			    -1) {
				free($2);
				YYERROR;
			}
			free(conf->hostname->secret);
			conf->hostname->secret = $2;
		}
		| SECRETFILE STRING		{
			free(conf->hostname->secret_file);
			conf->hostname->secret_file = $2;
		}
		| ALGORITHM STRING		{
			if (strcmp($2, "hmac-sha256") != 0) {
				yyerror("algorithm %s: only hmac-sha256 is "
				    "supported", $2);
				free($2);
				YYERROR;
			}
			free(conf->hostname->algorithm);
			conf->hostname->algorithm = $2;
		}
		;

syncopts	: /* empty */
		| syncopts syncopt
		;

syncopt		: LISTEN ON STRING		{
			int	 prefix;

			if (addr_parse($3, &conf->sync->listen, &prefix) == -1
			    || prefix != -1) {
				yyerror("listen on %s: not an IP address", $3);
				free($3);
				YYERROR;
			}
			free($3);
		}
		| PORT port			{ conf->sync->port = $2; }
		| KEYFILE STRING		{
			free(conf->sync->key_file);
			conf->sync->key_file = $2;
		}
		| USER STRING			{
			free(conf->sync->user);
			conf->sync->user = $2;
		}
		| INTERVAL duration		{
			if ($2 < 1000) {
				yyerror("sync interval must be at least 1s");
				YYERROR;
			}
			conf->sync->interval = $2;
		}
		| DELAY duration		{
			if ($2 < 10) {
				yyerror("sync delay must be at least 10ms");
				YYERROR;
			}
			conf->sync->delay = $2;
		}
		| ALERTAFTER duration		{ conf->sync->alert_after = $2; }
		| ATTIC KEEP NUMBER		{
			if ($3 < 1 || $3 > 1000) {
				yyerror("attic keep %lld: the number of epochs "
				    "to keep, 1 to 1000", $3);
				YYERROR;
			}
			conf->sync->attic_keep = $3;
		}
		| MAXDELETE STRING		{
			const char	*errstr;
			char		*pct;

			if ((pct = strchr($2, '%')) == NULL || pct[1] != '\0') {
				yyerror("max-delete %s: a percentage, like "
				    "10%%", $2);
				free($2);
				YYERROR;
			}
			*pct = '\0';
			conf->sync->max_delete = strtonum($2, 0, 100, &errstr);
			if (errstr != NULL) {
				yyerror("max-delete %s%%: %s (0-100)", $2,
				    errstr);
				free($2);
				YYERROR;
			}
			free($2);
		}
		| DIRECTORY STRING		{
			struct conf_dir	*d;

			if ($2[0] != '/' || strlen($2) >= PATH_LEN) {
				yyerror("directory %s: an absolute path is "
				    "needed", $2);
				free($2);
				YYERROR;
			}
			TAILQ_FOREACH(d, &conf->sync->dirs, entry)
				if (strcmp(d->path, $2) == 0) {
					yyerror("directory %s given twice", $2);
					free($2);
					YYERROR;
				}
			cur_dir = xcalloc(1, sizeof(*cur_dir));
			cur_dir->path = $2;
			TAILQ_INIT(&cur_dir->excludes);
			TAILQ_INSERT_TAIL(&conf->sync->dirs, cur_dir, entry);
		} excludes
		;

excludes	: /* empty */
		| excludes EXCLUDE STRING	{
			struct conf_pattern	*p;

			if ($3[0] == '\0' || strlen($3) >= PATH_LEN) {
				yyerror("exclude: empty or too long pattern");
				free($3);
				YYERROR;
			}
			p = xcalloc(1, sizeof(*p));
			p->pattern = $3;
			TAILQ_INSERT_TAIL(&cur_dir->excludes, p, entry);
		}
		;

ctlopts		: ctlopt
		| ctlopts ctlopt
		;

ctlopt		: SOCKET STRING			{
			if ($2[0] != '/' ||
			    strlen($2) >= sizeof(((struct sockaddr_un *)0)->
			    sun_path)) {
				yyerror("control socket %s: an absolute path "
				    "of at most %zu bytes", $2,
				    sizeof(((struct sockaddr_un *)0)->sun_path)
				    - 1);
				free($2);
				YYERROR;
			}
			free(conf->ctl_socket);
			conf->ctl_socket = $2;
		}
		| GROUP STRING			{
			free(conf->ctl_group);
			conf->ctl_group = $2;
			where_set(&conf->ctl_where);
		}
		;

hooktimeout	: /* empty */
		| TIMEOUT duration		{
			if ($2 < 100) {
				yyerror("hook timeout must be at least 100ms");
				YYERROR;
			}
			cur_cmd->timeout = $2;
		}
		;

checkopts	: /* empty */
		| checkopts checkopt
		;

checkopt	: INTERVAL duration		{
			if ($2 < 100) {
				yyerror("check interval must be at least "
				    "100ms");
				YYERROR;
			}
			cur_cmd->interval = $2;
		}
		| FALL NUMBER			{
			if ($2 < 1 || $2 > 100) {
				yyerror("fall %lld out of range 1-100", $2);
				YYERROR;
			}
			cur_cmd->fall = $2;
		}
		| RISE NUMBER			{
			if ($2 < 1 || $2 > 100) {
				yyerror("rise %lld out of range 1-100", $2);
				YYERROR;
			}
			cur_cmd->rise = $2;
		}
		;

mailopts	: mailopt
		| mailopts mailopt
		;

mailopt		: TO STRING			{
			if (strchr($2, '@') == NULL || strpbrk($2, "\r\n<>")) {
				yyerror("alert mail to %s: not a mail address",
				    $2);
				free($2);
				YYERROR;
			}
			free(cur_alert->to);
			cur_alert->to = $2;
		}
		| FROM STRING			{
			if (strchr($2, '@') == NULL || strpbrk($2, "\r\n<>")) {
				yyerror("alert mail from %s: not a mail "
				    "address", $2);
				free($2);
				YYERROR;
			}
			free(cur_alert->from);
			cur_alert->from = $2;
		}
		| VIA STRING			{
			int	 prefix;

			if (addr_parse($2, &cur_alert->via, &prefix) == -1 ||
			    prefix != -1) {
				yyerror("alert mail via %s: not an IP address",
				    $2);
				free($2);
				YYERROR;
			}
			free($2);
		}
		| PORT port			{ cur_alert->port = $2; }
		;

%%

struct keywords {
	const char	*k_name;
	int		 k_val;
};

static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	file->errors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (conf_flags & CONF_QUIET)
		log_warnx("%s:%d: %s", file->name, yylval.lineno, msg);
	else
		fprintf(stderr, "%s:%d: %s\n", file->name, yylval.lineno, msg);
	return (0);
}

static int
yywarn(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (conf_flags & CONF_QUIET)
		log_warnx("%s:%d: warning: %s", file->name, yylval.lineno,
		    msg);
	else
		fprintf(stderr, "%s:%d: warning: %s\n", file->name,
		    yylval.lineno, msg);
	return (0);
}

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keywords *)e)->k_name));
}

static int
lookup(char *s)
{
	/* this has to be sorted always */
	static const struct keywords keywords[] = {
		{ "address",		ADDRESS },
		{ "alert",		ALERT },
		{ "alert-after",	ALERTAFTER },
		{ "algorithm",		ALGORITHM },
		{ "attic",		ATTIC },
		{ "check",		CHECK },
		{ "cluster",		CLUSTER },
		{ "command",		COMMAND },
		{ "control",		CONTROL },
		{ "count",		COUNT },
		{ "database",		DATABASE },
		{ "dead",		DEAD },
		{ "delay",		DELAY },
		{ "directory",		DIRECTORY },
		{ "exclude",		EXCLUDE },
		{ "fall",		FALL },
		{ "from",		FROM },
		{ "garp",		GARP },
		{ "group",		GROUP },
		{ "heartbeat",		HEARTBEAT },
		{ "hostname",		HOSTNAME },
		{ "include",		INCLUDE },
		{ "interface",		INTERFACE },
		{ "interval",		INTERVAL },
		{ "keep",		KEEP },
		{ "key",		KEY },
		{ "key-file",		KEYFILE },
		{ "label",		LABEL },
		{ "listen",		LISTEN },
		{ "mail",		MAIL },
		{ "margin",		MARGIN },
		{ "max-delete",		MAXDELETE },
		{ "no",			NO },
		{ "node",		NODE },
		{ "off",		OFF },
		{ "on",			ON },
		{ "on-active",		ONACTIVE },
		{ "on-fault",		ONFAULT },
		{ "on-standby",		ONSTANDBY },
		{ "port",		PORT },
		{ "preempt",		PREEMPT },
		{ "priority",		PRIORITY },
		{ "probe",		PROBE },
		{ "public-key",		PUBLICKEY },
		{ "refresh",		REFRESH },
		{ "reply",		REPLY },
		{ "request",		REQUEST },
		{ "rise",		RISE },
		{ "script-user",	SCRIPTUSER },
		{ "secret",		SECRET },
		{ "secret-file",	SECRETFILE },
		{ "server",		SERVER },
		{ "slack",		SLACK },
		{ "socket",		SOCKET },
		{ "sync",		SYNC },
		{ "timeout",		TIMEOUT },
		{ "to",			TO },
		{ "ttl",		TTL },
		{ "type",		TYPE },
		{ "user",		USER },
		{ "via",		VIA },
		{ "vip",		VIP },
		{ "wait",		WAIT },
		{ "yes",		YES },
		{ "zone",		ZONE },
	};
	const struct keywords	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return (p != NULL ? p->k_val : STRING);
}

#define START_EXPAND	1
#define DONE_EXPAND	2

static int	 expanding;
static char	*parsebuf;
static int	 parseindex;
static char	 pushback_buffer[1024];
static int	 pushback_index;

static int
lgetc(int quotec)
{
	int	 c, next;

	if (parsebuf) {
		/* read from the expansion of a macro first */
		if (parseindex >= 0) {
			c = (unsigned char)parsebuf[parseindex++];
			if (c != '\0')
				return (c);
			parsebuf = NULL;
		} else
			parseindex++;
	}
	if (pushback_index)
		return ((unsigned char)pushback_buffer[--pushback_index]);

	if (quotec) {
		if ((c = getc(file->stream)) == EOF) {
			yyerror("reached end of file while parsing a quoted "
			    "string");
			if (file == topfile || popfile() == EOF)
				return (EOF);
			return (quotec);
		}
		return (c);
	}

	while ((c = getc(file->stream)) == '\\') {
		next = getc(file->stream);
		if (next != '\n') {
			c = next;
			break;
		}
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	while (c == EOF) {
		if (file == topfile || popfile() == EOF)
			return (EOF);
		c = getc(file->stream);
	}
	return (c);
}

static int
lungetc(int c)
{
	if (c == EOF)
		return (EOF);
	if (parsebuf) {
		parseindex--;
		if (parseindex >= 0)
			return (c);
	}
	if (pushback_index + 1 >= (int)sizeof(pushback_buffer))
		return (EOF);
	pushback_buffer[pushback_index++] = c;
	return (c);
}

static int
findeol(void)
{
	int	 c;

	parsebuf = NULL;
	pushback_index = 0;

	/* skip to either EOF or the first real EOL */
	while (1) {
		c = lgetc(0);
		if (c == '\n') {
			file->lineno++;
			break;
		}
		if (c == EOF)
			break;
	}
	file->depth = 0;
	return (ERROR);
}

#define allowed_in_string(x) \
	(isalnum(x) || (ispunct(x) && x != '(' && x != ')' && \
	x != '{' && x != '}' && x != '<' && x != '>' && \
	x != '!' && x != '=' && x != '#' && x != ',' && x != '"'))

static int
yylex(void)
{
	char		 buf[8096], *p, *val;
	const char	*errstr;
	int		 quotec, next, c, token;

top:
	p = buf;
	while ((c = lgetc(0)) == ' ' || c == '\t' ||
	    (c == '\n' && file->depth > 0)) {
		if (c == '\n')
			file->lineno++;
	}

	yylval.lineno = file->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;	/* nothing */
	if (c == '\n' && file->depth > 0) {
		file->lineno++;
		goto top;
	}
	if (c == '$' && !expanding) {
		while (1) {
			if ((c = lgetc(0)) == EOF)
				return (0);
			if (p + 1 >= buf + sizeof(buf) - 1) {
				yyerror("string too long");
				return (findeol());
			}
			if (isalnum(c) || c == '_') {
				*p++ = c;
				continue;
			}
			*p = '\0';
			lungetc(c);
			break;
		}
		val = symget(buf);
		if (val == NULL) {
			yyerror("macro '%s' not defined", buf);
			return (findeol());
		}
		parsebuf = val;
		parseindex = 0;
		expanding = 1;
		return (yylex());
	}
	expanding = 0;

	switch (c) {
	case '\'':
	case '"':
		quotec = c;
		while (1) {
			if ((c = lgetc(quotec)) == EOF)
				return (0);
			if (c == '\n') {
				file->lineno++;
				continue;
			} else if (c == '\\') {
				if ((next = lgetc(quotec)) == EOF)
					return (0);
				if (next == quotec || next == ' ' ||
				    next == '\t' || next == '\\')
					c = next;
				else if (next == '\n') {
					file->lineno++;
					continue;
				} else
					lungetc(next);
			} else if (c == quotec) {
				*p = '\0';
				break;
			} else if (c == '\0') {
				yyerror("syntax error: NUL in a string");
				return (findeol());
			}
			if (p + 1 >= buf + sizeof(buf) - 1) {
				yyerror("string too long");
				return (findeol());
			}
			*p++ = c;
		}
		yylval.v.string = xstrdup(buf);
		return (STRING);
	case '{':
		file->depth++;
		return (c);
	case '}':
		if (file->depth > 0)
			file->depth--;
		return (c);
	}

#define allowed_to_end_number(x) \
	(isspace(x) || x == ')' || x ==',' || x == '/' || x == '}' || x == '=')

	if (c == '-' || isdigit(c)) {
		do {
			*p++ = c;
			if ((size_t)(p - buf) >= sizeof(buf)) {
				yyerror("string too long");
				return (findeol());
			}
		} while ((c = lgetc(0)) != EOF && isdigit(c));
		lungetc(c);
		if (p == buf + 1 && buf[0] == '-')
			goto nodigits;
		if (c == EOF || allowed_to_end_number(c)) {
			*p = '\0';
			yylval.v.number = strtonum(buf, -1000000000000LL,
			    1000000000000LL, &errstr);
			if (errstr) {
				yyerror("\"%s\" invalid number: %s",
				    buf, errstr);
				return (findeol());
			}
			return (NUMBER);
		} else {
nodigits:
			while (p > buf + 1)
				lungetc((unsigned char)*--p);
			c = (unsigned char)*--p;
			if (c == '-')
				return (c);
		}
	}

	if (isalnum(c) || c == ':' || c == '_' || c == '/' || c == '.') {
		do {
			*p++ = c;
			if ((size_t)(p - buf) >= sizeof(buf)) {
				yyerror("string too long");
				return (findeol());
			}
		} while ((c = lgetc(0)) != EOF && (allowed_in_string(c)));
		lungetc(c);
		*p = '\0';
		if ((token = lookup(buf)) == STRING)
			yylval.v.string = xstrdup(buf);
		return (token);
	}
	if (c == '\n') {
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	if (c == EOF)
		return (0);
	return (c);
}

static struct file *
pushfile(const char *name, int isinclude)
{
	struct file	*nfile;
	struct stat	 st;
	char		 err[PATH_LEN + 128];
	int		 depth = 0;

	TAILQ_FOREACH(nfile, &files, entry)
		depth++;
	if (depth >= MAX_INCLUDE) {
		yyerror("include %s: nested more than %d deep", name,
		    MAX_INCLUDE);
		return (NULL);
	}
	if ((nfile = calloc(1, sizeof(struct file))) == NULL)
		fatal(NULL);
	nfile->name = xstrdup(name);
	if ((nfile->stream = fopen(nfile->name, "r")) == NULL) {
		if (isinclude)
			yyerror("include %s: %s", name, strerror(errno));
		else if (conf_flags & CONF_QUIET)
			log_warnx("%s: %s", nfile->name, strerror(errno));
		else
			fprintf(stderr, "%s: %s\n", nfile->name,
			    strerror(errno));
		free(nfile->name);
		free(nfile);
		return (NULL);
	}
	if (file_secure_fd(fileno(nfile->stream), nfile->name, 0, err,
	    sizeof(err)) == -1) {
		if (isinclude)
			yyerror("%s", err);
		else if (conf_flags & CONF_QUIET)
			log_warnx("%s", err);
		else
			fprintf(stderr, "%s\n", err);
		fclose(nfile->stream);
		free(nfile->name);
		free(nfile);
		return (NULL);
	}
	if (fstat(fileno(nfile->stream), &st) == 0)
		nfile->secret_ok = (st.st_mode & 07777) == 0600 ||
		    (st.st_mode & 07777) == 0400;
	nfile->lineno = TAILQ_EMPTY(&files) ? 1 : 0;
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	return (nfile);
}

static int
popfile(void)
{
	struct file	*prev;

	if ((prev = TAILQ_PREV(file, files, entry)) != NULL)
		prev->errors += file->errors;

	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file->name);
	free(file);
	file = prev;
	return (file ? 0 : EOF);
}

/*
 * Parse filename.  node is this node's name (NULL: the short host name).
 * Messages go to stderr (to the log with CONF_QUIET); returns NULL when
 * there were errors.
 */
struct fo_conf *
parse_config(const char *filename, const char *node, int flags)
{
	struct fo_conf	*c;
	int		 errors = 0;

	conf_flags = flags;
	garp_count_set = hostname_seen = sync_seen = 0;
	cur_node = NULL;
	cur_dir = NULL;
	cur_alert = NULL;
	cur_cmd = NULL;

	c = conf = xcalloc(1, sizeof(*conf));
	strlcpy(conf->file, filename, sizeof(conf->file));
	TAILQ_INIT(&conf->nodes);
	TAILQ_INIT(&conf->vips);
	TAILQ_INIT(&conf->alerts);
	conf->timing.interval = DEFAULT_INTERVAL;
	conf->timing.dead = DEFAULT_DEAD;
	conf->timing.margin = DEFAULT_MARGIN;
	conf->timing.slack = DEFAULT_SLACK;
	conf->timing.timeout = DEFAULT_TIMEOUT;
	conf->preempt_delay = DEFAULT_PREEMPT_DELAY;
	conf->garp_type = GARP_REQUEST;
	conf->garp_count = DEFAULT_GARP_COUNT;
	conf->garp_interval = DEFAULT_GARP_INTERVAL;
	conf->probe = 1;
	conf->probe_wait = DEFAULT_PROBE_WAIT;
	conf->ctl_socket = xstrdup(CONTROL_SOCKET);
	conf->ctl_group = xstrdup(CONTROL_GROUP);
	conf->script_user = xstrdup("root");
	if (node != NULL)
		strlcpy(conf->node, node, sizeof(conf->node));
	else {
		char	 host[256];

		if (gethostname(host, sizeof(host)) == -1)
			fatal("gethostname");
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		strlcpy(conf->node, host, sizeof(conf->node));
	}

	if ((file = pushfile(filename, 0)) == NULL) {
		config_free(c);
		conf = NULL;
		return (NULL);
	}
	topfile = file;

	yyparse();
	errors = file->errors;
	if (errors == 0) {
		struct conf_where	 end;

		/* what is missing is reported at the end of the file */
		end.file = file->name;
		end.line = file->lineno > 1 ? file->lineno - 1 : 1;
		errors = config_check(conf, conf_flags, &end);
	}
	popfile();
	symclear();
	if (cur_node != NULL) {
		free(cur_node);
		cur_node = NULL;
	}
	conf = NULL;
	if (errors) {
		config_free(c);
		return (NULL);
	}
	return (c);
}

/* Split a command into argv on blanks: no quoting, no expansion. */
static int
cmd_split(struct conf_cmd *cmd, char *line)
{
	char	*copy, *tok, *last;
	size_t	 n = 0;

	cmd->line = line;
	where_set(&cmd->where);
	if (line[0] != '/') {
		yyerror("\"%s\": a command is an absolute path (it is run "
		    "without a shell)", line);
		return (-1);
	}
	copy = xstrdup(line);
	for (tok = strtok_r(copy, " \t", &last); tok != NULL;
	    tok = strtok_r(NULL, " \t", &last)) {
		cmd->argv = reallocarray(cmd->argv, n + 2, sizeof(char *));
		if (cmd->argv == NULL)
			fatal(NULL);
		cmd->argv[n++] = xstrdup(tok);
	}
	cmd->argv[n] = NULL;
	free(copy);
	return (0);
}

/* hostaddr must be IP literals (comma-separated for several hosts). */
static int
conninfo_check_hostaddr(const char *ci)
{
	PQconninfoOption	*opts, *o;
	struct fo_addr		 a;
	char			*copy, *tok, *last;
	int			 prefix, rc = 0;

	if ((opts = PQconninfoParse(ci, NULL)) == NULL)
		return (0);
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "hostaddr") != 0 || o->val == NULL)
			continue;
		copy = xstrdup(o->val);
		for (tok = strtok_r(copy, ",", &last); tok != NULL;
		    tok = strtok_r(NULL, ",", &last))
			if (addr_parse(tok, &a, &prefix) == -1 ||
			    prefix != -1) {
				yyerror("database: hostaddr %s is not an IP "
				    "address", tok);
				rc = -1;
			}
		free(copy);
	}
	PQconninfoFree(opts);
	return (rc);
}

static int
conninfo_has_password(const char *ci)
{
	PQconninfoOption	*opts, *o;
	int			 found = 0;

	if ((opts = PQconninfoParse(ci, NULL)) == NULL)
		return (0);
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    strcmp(o->val, REDACTED) != 0)
			found = 1;
	PQconninfoFree(opts);
	return (found);
}

/*
 * A secret must sit in a file of mode 0600 or 0400: the file of the
 * statement, or, when the secret came through a macro, the file that
 * defined the macro.  value is the statement's string; conninfo: the
 * secret is its password (a macro carries it when it has one).
 */
static int
check_secret_here(const char *what, const char *value, int conninfo)
{
	struct sym	*sym, *from = NULL;

	TAILQ_FOREACH(sym, &symhead, entry) {
		/* a macro is a whole token: the secret is its value */
		if (strcmp(value, sym->val) != 0 ||
		    (conninfo && !conninfo_has_password(sym->val)))
			continue;
		if (!sym->secret_ok) {
			yyerror("%s holds %s (macro %s): its mode must be "
			    "0600 or 0400", sym->file, what, sym->nam);
			return (-1);
		}
		from = sym;
	}
	if (file->secret_ok || from != NULL)
		return (0);
	yyerror("%s holds %s: its mode must be 0600 or 0400", file->name,
	    what);
	return (-1);
}

static void
where_set(struct conf_where *w)
{
	free(w->file);
	w->file = xstrdup(file->name);
	w->line = yylval.lineno;
}

static int
symset(const char *nam, const char *val)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(nam, sym->nam) == 0)
			break;
	if (sym == NULL) {
		if ((sym = calloc(1, sizeof(*sym))) == NULL)
			return (-1);
		sym->nam = xstrdup(nam);
		TAILQ_INSERT_TAIL(&symhead, sym, entry);
	}
	free(sym->val);
	free(sym->file);
	sym->val = xstrdup(val);
	sym->file = xstrdup(file->name);
	sym->secret_ok = file->secret_ok;
	return (0);
}

static char *
symget(const char *nam)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(nam, sym->nam) == 0)
			return (sym->val);
	return (NULL);
}

static void
symclear(void)
{
	struct sym	*sym;

	while ((sym = TAILQ_FIRST(&symhead)) != NULL) {
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->nam);
		free(sym->val);
		free(sym->file);
		free(sym);
	}
}

static void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		fatal(NULL);
	return (p);
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal(NULL);
	return (p);
}
