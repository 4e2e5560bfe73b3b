/*
 * syncd: frames over one crypto_secretstream_xchacha20poly1305 stream per
 * direction, keyed by the Noise split (syncd/PROTOCOL).
 */

#ifndef WIRE_H
#define WIRE_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAXBODY	65536		/* a frame's body at most */
#define WIRE_OVERHEAD	(4 + 1 + crypto_secretstream_xchacha20poly1305_ABYTES)
#define WIRE_BUFSIZE	(4 * (WIRE_MAXBODY + WIRE_OVERHEAD))

struct wire {
	int		 fd;
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	int		 rx_ready;	/* the peer's stream header came */
	uint8_t		 krx[32];	/* until then, its key */
	int		 got_final;
	int		 sent_final;
	uint8_t		*in;
	size_t		 inoff;		/* where the unread bytes start */
	size_t		 inlen;
	uint8_t		*out;
	size_t		 outoff;	/* where the unwritten bytes start */
	size_t		 outlen;
	uint64_t	 frames_in;
	uint64_t	 frames_out;
};

int	 wire_init(struct wire *, int, const uint8_t [32], const uint8_t [32]);
void	 wire_free(struct wire *);
int	 wire_send(struct wire *, uint8_t, const void *, size_t, int);
int	 wire_flush(struct wire *);
int	 wire_read(struct wire *);
int	 wire_get(struct wire *, uint8_t *, uint8_t *, size_t, size_t *);
int	 wire_pending(struct wire *);

#endif /* WIRE_H */
