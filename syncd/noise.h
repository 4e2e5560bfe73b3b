/*
 * Noise_KK_25519_ChaChaPoly_SHA256 (noiseprotocol.org, revision 34):
 * both static keys known in advance, two handshake messages.
 */

#ifndef NOISE_H
#define NOISE_H

#include <stddef.h>
#include <stdint.h>

#define NOISE_KEYLEN	32
#define NOISE_HASHLEN	32
#define NOISE_TAGLEN	16
#define NOISE_MAXMSG	65535

struct noise_cipher {
	uint8_t		 k[NOISE_KEYLEN];
	uint64_t	 n;
	int		 has_key;
};

struct noise_hs {
	uint8_t		 ck[NOISE_HASHLEN];
	uint8_t		 h[NOISE_HASHLEN];
	struct noise_cipher c;
	uint8_t		 s_priv[NOISE_KEYLEN];
	uint8_t		 s_pub[NOISE_KEYLEN];
	uint8_t		 e_priv[NOISE_KEYLEN];
	uint8_t		 e_pub[NOISE_KEYLEN];
	uint8_t		 rs[NOISE_KEYLEN];
	uint8_t		 re[NOISE_KEYLEN];
	int		 initiator;
	int		 msg;		/* next handshake message, 0 or 1 */
	int		 fixed_e;	/* tests: the ephemeral was given */
};

int	 noise_init(struct noise_hs *, int, const uint8_t *, size_t,
	    const uint8_t [NOISE_KEYLEN], const uint8_t [NOISE_KEYLEN]);
void	 noise_set_ephemeral(struct noise_hs *, const uint8_t [NOISE_KEYLEN]);
int	 noise_write(struct noise_hs *, const uint8_t *, size_t, uint8_t *,
	    size_t, size_t *);
int	 noise_read(struct noise_hs *, const uint8_t *, size_t, uint8_t *,
	    size_t, size_t *);
int	 noise_done(struct noise_hs *);
void	 noise_split(struct noise_hs *, struct noise_cipher *,
	    struct noise_cipher *);
int	 noise_encrypt(struct noise_cipher *, const uint8_t *, size_t,
	    const uint8_t *, size_t, uint8_t *);
int	 noise_decrypt(struct noise_cipher *, const uint8_t *, size_t,
	    const uint8_t *, size_t, uint8_t *);
void	 noise_clear(struct noise_hs *);

#endif /* NOISE_H */
