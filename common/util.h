/*
 * Small helpers shared by more than one process.
 */

#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "failoverd.h"

#define ADDR_STRLEN	64	/* an address with its prefix */
#define KEY_B64LEN	45	/* base64 of 32 bytes, with NUL */

int		 addr_parse(const char *, struct fo_addr *, int *);
const char	*addr_str(const struct fo_addr *, char *, size_t);
const char	*duration_str(uint32_t, char *, size_t);
int		 duration_parse(const char *, uint32_t *);
int		 key_b64_decode(const char *, uint8_t [KEY_LEN]);
void		 key_b64_encode(const uint8_t [KEY_LEN], char [KEY_B64LEN]);
int		 key_file_read(const char *, uint8_t [KEY_LEN], int, char *,
		    size_t);
int		 key_file_write(const char *, uint8_t [KEY_LEN], char *, size_t);
int		 file_secure(const char *, int, char *, size_t);
int		 file_secure_fd(int, const char *, int, char *, size_t);
int		 str_terminated(const char *, size_t);

/*
 * A string field of a message holds its NUL within its array; a handler
 * refuses the message otherwise.  The field must be an array, not a
 * pointer (that would not compile).
 */
#define STR_OK(f)	str_terminated((f), sizeof(f) + 0 * sizeof(char	\
	[1 - 2 * __builtin_types_compatible_p(__typeof__(f),		\
	__typeof__(&(f)[0]))]))

#endif /* UTIL_H */
