/*
 * syncd: opening a session (syncd/PROTOCOL sections 1 and 2), without
 * blocking: the clear hello, the Noise KK handshake, then frames.
 */

#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>

#include "failoverd.h"
#include "noise.h"
#include "wire.h"

#define SESSION_VERSION	3	/* 2: END carries the file's hash; 3: HLINK */
#define HELLO_MAX	(3 + 2 * (NAME_LEN - 1))

struct session_peer {
	char		 name[NAME_LEN];
	int		 npub;
	uint8_t		 pub[MAX_PUBKEYS][NOISE_KEYLEN];
};

enum session_state {
	S_HELLO,	/* initiator: sending it; responder: reading it */
	S_MSG1,
	S_MSG2,
	S_OPEN,
	S_FAILED
};

struct session {
	int			 fd;
	int			 initiator;
	enum session_state	 state;
	uint8_t			 hello[HELLO_MAX];
	size_t			 hellolen;
	uint8_t			 in[2 + 128];
	size_t			 inlen;
	uint8_t			 out[HELLO_MAX + 2 + 128];
	size_t			 outlen;
	struct noise_hs		 hs;
	struct wire		 w;
	char			 cluster[NAME_LEN];
	uint8_t			 sk[NOISE_KEYLEN];
	const struct session_peer *peers;
	int			 npeers;
	const struct session_peer *peer;	/* who it is with */
	char			 error[128];
};

int	 session_connect(struct session *, int, const char *, const char *,
	    const uint8_t [NOISE_KEYLEN], const struct session_peer *);
int	 session_accept(struct session *, int, const char *,
	    const uint8_t [NOISE_KEYLEN], const struct session_peer *, int);
int	 session_io(struct session *);
void	 session_close(struct session *);

#endif /* SESSION_H */
