/*
 * Noise_KK_25519_ChaChaPoly_SHA256 from libsodium's primitives: X25519
 * (crypto_scalarmult), SHA-256, HMAC-SHA256 for HKDF, and
 * ChaCha20-Poly1305-IETF with the nonce 0^32 || n (64-bit little endian).
 *
 *   KK:  -> s
 *        <- s
 *        ...
 *        -> e, es, ss
 *        <- e, ee, se
 *
 * Payloads are supported (the test vectors carry them); failoverd's sync
 * protocol sends none.  Every failure leaves the state unusable.
 */

#include <sodium.h>
#include <string.h>

#include "noise.h"

#define PROTOCOL_NAME	"Noise_KK_25519_ChaChaPoly_SHA256"

static void
mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	crypto_hash_sha256_state	 st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, hs->h, NOISE_HASHLEN);
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, hs->h);
}

static void
hmac(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen, uint8_t out[NOISE_HASHLEN])
{
	crypto_auth_hmacsha256_state	 st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, a, alen);
	if (blen > 0)
		crypto_auth_hmacsha256_update(&st, b, blen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* HKDF with two outputs, as the Noise specification defines it. */
static void
hkdf2(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
    uint8_t out1[NOISE_HASHLEN], uint8_t out2[NOISE_HASHLEN])
{
	uint8_t	 temp[NOISE_HASHLEN], one = 1, two = 2;

	hmac(ck, NOISE_HASHLEN, ikm, ikmlen, NULL, 0, temp);
	hmac(temp, NOISE_HASHLEN, &one, 1, NULL, 0, out1);
	hmac(temp, NOISE_HASHLEN, out1, NOISE_HASHLEN, &two, 1, out2);
	sodium_memzero(temp, sizeof(temp));
}

static void
mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t	 ck[NOISE_HASHLEN], k[NOISE_HASHLEN];

	hkdf2(hs->ck, ikm, len, ck, k);
	memcpy(hs->ck, ck, NOISE_HASHLEN);
	memcpy(hs->c.k, k, NOISE_KEYLEN);
	hs->c.n = 0;
	hs->c.has_key = 1;
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(k, sizeof(k));
}

static void
nonce(uint64_t n, uint8_t out[crypto_aead_chacha20poly1305_IETF_NPUBBYTES])
{
	int	 i;

	memset(out, 0, 4);
	for (i = 0; i < 8; i++)
		out[4 + i] = (n >> (8 * i)) & 0xff;
}

/* out gets len + NOISE_TAGLEN bytes. */
int
noise_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *p, size_t len, uint8_t *out)
{
	uint8_t			 npub[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	unsigned long long	 clen;

	if (!c->has_key || c->n == UINT64_MAX)
		return (-1);
	nonce(c->n, npub);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, p, len, ad,
	    adlen, NULL, npub, c->k) != 0)
		return (-1);
	c->n++;
	return (0);
}

/* in holds len bytes including the tag; out gets len - NOISE_TAGLEN. */
int
noise_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t			 npub[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	unsigned long long	 plen;

	if (!c->has_key || c->n == UINT64_MAX || len < NOISE_TAGLEN)
		return (-1);
	nonce(c->n, npub);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, in,
	    len, ad, adlen, npub, c->k) != 0)
		return (-1);
	c->n++;
	return (0);
}

static int
dh(uint8_t out[NOISE_KEYLEN], const uint8_t priv[NOISE_KEYLEN],
    const uint8_t pub[NOISE_KEYLEN])
{
	/* libsodium refuses a point of small order (an all-zero result) */
	return (crypto_scalarmult(out, priv, pub) == 0 ? 0 : -1);
}

static int
mix_dh(struct noise_hs *hs, const uint8_t *priv, const uint8_t *pub)
{
	uint8_t	 shared[NOISE_KEYLEN];

	if (dh(shared, priv, pub) == -1)
		return (-1);
	mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return (0);
}

/*
 * initiator: 1 or 0; the prologue (both sides must give the same); our
 * static secret key; the peer's static public key (pinned).
 */
int
noise_init(struct noise_hs *hs, int initiator, const uint8_t *prologue,
    size_t plen, const uint8_t s_priv[NOISE_KEYLEN],
    const uint8_t rs[NOISE_KEYLEN])
{
	memset(hs, 0, sizeof(*hs));
	hs->initiator = initiator;
	/* the name is exactly HASHLEN bytes: h is the name itself */
	memcpy(hs->h, PROTOCOL_NAME, NOISE_HASHLEN);
	memcpy(hs->ck, hs->h, NOISE_HASHLEN);
	mix_hash(hs, prologue, plen);
	memcpy(hs->s_priv, s_priv, NOISE_KEYLEN);
	crypto_scalarmult_base(hs->s_pub, hs->s_priv);
	memcpy(hs->rs, rs, NOISE_KEYLEN);
	/* pre-messages: the initiator's static, then the responder's */
	if (initiator) {
		mix_hash(hs, hs->s_pub, NOISE_KEYLEN);
		mix_hash(hs, hs->rs, NOISE_KEYLEN);
	} else {
		mix_hash(hs, hs->rs, NOISE_KEYLEN);
		mix_hash(hs, hs->s_pub, NOISE_KEYLEN);
	}
	return (0);
}

/* Tests only: the ephemeral key of the test vector. */
void
noise_set_ephemeral(struct noise_hs *hs, const uint8_t e[NOISE_KEYLEN])
{
	memcpy(hs->e_priv, e, NOISE_KEYLEN);
	hs->fixed_e = 1;
}

int
noise_done(struct noise_hs *hs)
{
	return (hs->msg == 2);
}

/* Write the next handshake message: e, the DHs, the encrypted payload. */
int
noise_write(struct noise_hs *hs, const uint8_t *payload, size_t plen,
    uint8_t *out, size_t outmax, size_t *outlen)
{
	size_t	 need = NOISE_KEYLEN + plen + NOISE_TAGLEN;

	if (hs->msg > 1 || (hs->msg == 0) != (hs->initiator != 0) ||
	    need > outmax || need > NOISE_MAXMSG)
		return (-1);
	if (!hs->fixed_e)
		randombytes_buf(hs->e_priv, NOISE_KEYLEN);
	crypto_scalarmult_base(hs->e_pub, hs->e_priv);
	memcpy(out, hs->e_pub, NOISE_KEYLEN);
	mix_hash(hs, hs->e_pub, NOISE_KEYLEN);
	if (hs->msg == 0) {
		if (mix_dh(hs, hs->e_priv, hs->rs) == -1 ||	/* es */
		    mix_dh(hs, hs->s_priv, hs->rs) == -1)	/* ss */
			return (-1);
	} else {
		if (mix_dh(hs, hs->e_priv, hs->re) == -1 ||	/* ee */
		    mix_dh(hs, hs->e_priv, hs->rs) == -1)	/* se */
			return (-1);
	}
	if (noise_encrypt(&hs->c, hs->h, NOISE_HASHLEN, payload, plen,
	    out + NOISE_KEYLEN) == -1)
		return (-1);
	mix_hash(hs, out + NOISE_KEYLEN, plen + NOISE_TAGLEN);
	*outlen = need;
	hs->msg++;
	return (0);
}

/* Read the next handshake message; payload gets what it carried. */
int
noise_read(struct noise_hs *hs, const uint8_t *in, size_t len,
    uint8_t *payload, size_t pmax, size_t *plen)
{
	size_t	 clen;

	if (hs->msg > 1 || (hs->msg == 0) != (hs->initiator == 0) ||
	    len < NOISE_KEYLEN + NOISE_TAGLEN || len > NOISE_MAXMSG)
		return (-1);
	clen = len - NOISE_KEYLEN;
	if (clen - NOISE_TAGLEN > pmax)
		return (-1);
	memcpy(hs->re, in, NOISE_KEYLEN);
	mix_hash(hs, hs->re, NOISE_KEYLEN);
	if (hs->msg == 0) {
		if (mix_dh(hs, hs->s_priv, hs->re) == -1 ||	/* es */
		    mix_dh(hs, hs->s_priv, hs->rs) == -1)	/* ss */
			return (-1);
	} else {
		if (mix_dh(hs, hs->e_priv, hs->re) == -1 ||	/* ee */
		    mix_dh(hs, hs->s_priv, hs->re) == -1)	/* se */
			return (-1);
	}
	if (noise_decrypt(&hs->c, hs->h, NOISE_HASHLEN, in + NOISE_KEYLEN,
	    clen, payload) == -1)
		return (-1);
	mix_hash(hs, in + NOISE_KEYLEN, clen);
	*plen = clen - NOISE_TAGLEN;
	hs->msg++;
	return (0);
}

/* After the handshake: the initiator sends with c1, receives with c2. */
void
noise_split(struct noise_hs *hs, struct noise_cipher *send,
    struct noise_cipher *recv)
{
	uint8_t	 k1[NOISE_HASHLEN], k2[NOISE_HASHLEN];

	hkdf2(hs->ck, NULL, 0, k1, k2);
	memset(send, 0, sizeof(*send));
	memset(recv, 0, sizeof(*recv));
	memcpy(hs->initiator ? send->k : recv->k, k1, NOISE_KEYLEN);
	memcpy(hs->initiator ? recv->k : send->k, k2, NOISE_KEYLEN);
	send->has_key = recv->has_key = 1;
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
}

void
noise_clear(struct noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}
