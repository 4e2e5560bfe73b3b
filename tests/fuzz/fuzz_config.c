/*
 * libFuzzer: the configuration parser (monitor/parse.y and the meaning
 * checks of monitor/config.c) on a file of the input's bytes.  A file that
 * parses is printed as -nv prints it, and that text must parse again to
 * the same text.  Run as root: the parser refuses a file that is not
 * root's.
 */

#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

/* what config.c reaches for beyond the parser: not used here */
struct monitor_state	 mon;
void
monitor_compose_fd(enum proc_id id, uint32_t type, int fd, const void *data,
    size_t len)
{
	(void)id; (void)type; (void)fd; (void)data; (void)len;
	abort();
}

static char	 path[64], path2[64];

static void
cleanup(void)
{
	unlink(path);
	unlink(path2);
}

static void
put(const char *p, const void *data, size_t len)
{
	int	 fd;

	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    (len > 0 && write(fd, data, len) != (ssize_t)len))
		err(1, "%s", p);
	fchmod(fd, 0644);
	close(fd);
}

static char *
render(struct fo_conf *c)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((f = open_memstream(&out, &len)) == NULL)
		err(1, "open_memstream");
	printconf(f, c);
	fclose(f);
	return (out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fo_conf	*c, *c2;
	char		*t1, *t2;
	int		 fd;

	if (path[0] == '\0') {
		strlcpy(path, "/tmp/fo-fuzz-conf.XXXXXX", sizeof(path));
		strlcpy(path2, "/tmp/fo-fuzz-conf2.XXXXXX", sizeof(path2));
		if ((fd = mkstemp(path)) == -1 || close(fd) == -1 ||
		    (fd = mkstemp(path2)) == -1 || close(fd) == -1)
			err(1, "mkstemp");
		atexit(cleanup);
	}
	if (len > 65536)
		return (0);
	put(path, data, len);
	if ((c = parse_config(path, "a", CONF_CHECKONLY | CONF_NODEGIVEN |
	    CONF_QUIET)) == NULL)
		return (0);
	t1 = render(c);
	put(path2, t1, strlen(t1));
	if ((c2 = parse_config(path2, "a", CONF_CHECKONLY | CONF_NODEGIVEN |
	    CONF_QUIET)) == NULL) {
		fprintf(stderr, "printed text does not parse:\n%s", t1);
		abort();
	}
	t2 = render(c2);
	if (strcmp(t1, t2) != 0) {
		fprintf(stderr, "printed twice, differs:\n%s---\n%s", t1, t2);
		abort();
	}
	free(t1);
	free(t2);
	config_free(c);
	config_free(c2);
	return (0);
}
