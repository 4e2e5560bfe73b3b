/*
 * Helpers shared by more than one process: addresses, durations, keys,
 * the files that configure failoverd, string fields of messages.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "util.h"

static const char *role_names[ROLE_MAX] = {
	[ROLE_STARTING] = "starting",
	[ROLE_STANDBY] = "standby",
	[ROLE_ACTIVE] = "active",
	[ROLE_DEMOTING] = "demoting",
	[ROLE_MAINTENANCE] = "maintenance",
	[ROLE_FAULT] = "fault",
};

static const char *fault_names[FAULT_MAX] = {
	[FAULT_DB] = "db",
	[FAULT_CHECK] = "check",
	[FAULT_HOOK] = "hook",
	[FAULT_LINK] = "link",
	[FAULT_VIP] = "vip",
	[FAULT_CONFLICT] = "conflict",
	[FAULT_SYNC] = "sync",
};

const char *
fault_name(uint32_t f)
{
	if (f >= FAULT_MAX)
		return ("unknown");
	return (fault_names[f]);
}

const char *
role_name(enum role r)
{
	if (r >= ROLE_MAX)
		return ("unknown");
	return (role_names[r]);
}

/*
 * Parse "ADDR" or "ADDR/PREFIX".  *prefix is -1 when none was given.
 * Returns -1 on a malformed address or prefix.
 */
int
addr_parse(const char *s, struct fo_addr *a, int *prefix)
{
	char		 buf[ADDR_STRLEN], *slash;
	const char	*errstr;
	int		 max;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return (-1);
	memset(a, 0, sizeof(*a));
	*prefix = -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, &a->a.v4) == 1) {
		a->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, &a->a.v6) == 1) {
		a->af = AF_INET6;
		max = 128;
	} else
		return (-1);
	if (slash != NULL) {
		*prefix = strtonum(slash, 0, max, &errstr);
		if (errstr != NULL)
			return (-1);
	}
	return (0);
}

const char *
addr_str(const struct fo_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->af, &a->a, buf, len) == NULL)
		strlcpy(buf, "?", len);
	return (buf);
}

/* A duration in the largest unit that states it exactly. */
const char *
duration_str(uint32_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%um", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
	return (buf);
}

/* "150ms", "2s", "1m"; returns -1 when malformed or too long. */
int
duration_parse(const char *s, uint32_t *ms)
{
	unsigned long long	 n;
	uint32_t		 mult;
	char			*end;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return (-1);
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else
		return (-1);
	if (n > UINT32_MAX / mult)
		return (-1);
	*ms = n * mult;
	return (0);
}

int
key_b64_decode(const char *s, uint8_t key[KEY_LEN])
{
	size_t	 len;

	if (sodium_base642bin(key, KEY_LEN, s, strlen(s), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != KEY_LEN)
		return (-1);
	return (0);
}

void
key_b64_encode(const uint8_t key[KEY_LEN], char out[KEY_B64LEN])
{
	sodium_bin2base64(out, KEY_B64LEN, key, KEY_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

/*
 * A file that configures failoverd must be owned by root (or by the user
 * who runs it, for "failoverd -n" as an ordinary user) and not group- or
 * world-writable; one that holds a secret must be 0600 or 0400.
 */
/*
 * The directories above a file that configures failoverd: owned by root
 * (or the user running it) and not writable by group or others, unless
 * sticky and root's (/tmp), so nobody else can put another file there.
 */
static int
dirs_secure(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		 dir[PATH_MAX], *p;

	if (realpath(path, dir) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	while ((p = strrchr(dir, '/')) != NULL) {
		if (p == dir)
			p[1] = '\0';
		else
			*p = '\0';
		if (stat(dir, &st) == -1) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return (-1);
		}
		if (!(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
		    st.st_uid == 0) && ((st.st_uid != 0 &&
		    st.st_uid != geteuid()) ||
		    (st.st_mode & (S_IWGRP | S_IWOTH)))) {
			snprintf(err, errlen, "%s: its directory %s is "
			    "writable by others than root", path, dir);
			return (-1);
		}
		if (strcmp(dir, "/") == 0)
			break;
	}
	return (0);
}

/*
 * fd, read from path, is a file that configures failoverd: checked on the
 * descriptor (what is read is what was checked), and its directories.
 */
int
file_secure_fd(int fd, const char *path, int secret, char *err,
    size_t errlen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return (-1);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		if (geteuid() == 0)
			snprintf(err, errlen, "%s: owner must be root", path);
		else
			snprintf(err, errlen, "%s: owner must be root or uid "
			    "%u", path, (unsigned int)geteuid());
		return (-1);
	}
	if (secret && (st.st_mode & 07777) != 0600 &&
	    (st.st_mode & 07777) != 0400) {
		snprintf(err, errlen, "%s holds a secret: mode must be 0600 "
		    "or 0400, not %04o", path, st.st_mode & 07777);
		return (-1);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: must not be group- or "
		    "world-writable", path);
		return (-1);
	}
	return (dirs_secure(path, err, errlen));
}

/* The same, for a file not open yet (failoverd -n names what it finds). */
int
file_secure(const char *path, int secret, char *err, size_t errlen)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	rc = file_secure_fd(fd, path, secret, err, errlen);
	close(fd);
	return (rc);
}

/* Does s, an array of size bytes, hold a NUL? */
int
str_terminated(const char *s, size_t size)
{
	return (memchr(s, '\0', size) != NULL);
}

/* A key file is one line: the base64 of the 32-byte X25519 secret. */
int
key_file_read(const char *path, uint8_t key[KEY_LEN], int secure, char *err,
    size_t errlen)
{
	char	 buf[128];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (secure && file_secure_fd(fd, path, 1, err, errlen) == -1) {
		close(fd);
		return (-1);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (key_b64_decode(buf, key) == -1) {
		sodium_memzero(buf, sizeof(buf));
		snprintf(err, errlen, "%s: not a failoverd key (base64 of 32 "
		    "bytes)", path);
		return (-1);
	}
	sodium_memzero(buf, sizeof(buf));
	return (0);
}

/* Write a new random secret key; fails if the file exists. */
int
key_file_write(const char *path, uint8_t key[KEY_LEN], char *err,
    size_t errlen)
{
	char	 b64[KEY_B64LEN + 1];
	size_t	 len;
	int	 fd;

	randombytes_buf(key, KEY_LEN);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	key_b64_encode(key, b64);
	len = strlen(b64);
	b64[len++] = '\n';
	if (fchmod(fd, 0600) == -1 || write(fd, b64, len) != (ssize_t)len ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		sodium_memzero(b64, sizeof(b64));
		return (-1);
	}
	sodium_memzero(b64, sizeof(b64));
	if (close(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
}
