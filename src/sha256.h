/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sha256.h: SHA-256 (FIPS 180-4), written from the standard so the API-key
 * check needs no crypto library.  Used to store and compare API keys, which
 * are 256-bit random secrets: a plain, unsalted hash is enough for those (the
 * secret is never a password a person chose).
 *
 * The functions carry an sg_ prefix although the module is "sha256": a bare
 * sha256_init could interpose on a same-named symbol of a shared library the
 * process loads (libcurl's TLS stack, for one).
 */
#ifndef SG_SHA256_H
#define SG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SG_SHA256_LEN 32
#define SG_SHA256_HEX_LEN 64

struct sg_sha256 {
	uint32_t h[8];
	uint64_t nbytes;  /* message length so far */
	uint8_t buf[64];  /* the incomplete block */
	size_t nbuf;
};

/* Starts a hash. */
void sg_sha256_init(struct sg_sha256 *c);
/* Feeds n bytes of data (any n, including 0). */
void sg_sha256_update(struct sg_sha256 *c, const void *data, size_t n);
/* Finishes: writes the 32-byte digest to out and wipes c. */
void sg_sha256_final(struct sg_sha256 *c, uint8_t out[SG_SHA256_LEN]);

/* One-shot digest of data[0..n). */
void sg_sha256(const void *data, size_t n, uint8_t out[SG_SHA256_LEN]);
/* Lowercase hex of a digest into out (65 bytes with the NUL). */
void sg_sha256_hex(const uint8_t d[SG_SHA256_LEN], char out[SG_SHA256_HEX_LEN + 1]);

#endif
