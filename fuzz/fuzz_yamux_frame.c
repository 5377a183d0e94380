/*
 * Fuzz target for wire/yamux_frame: walks arbitrary bytes as a stream of
 * yamux frames. Each header is decoded, checked field by field against the
 * raw bytes, re-encoded and compared; Data payloads are skipped. Also runs
 * yamux_flags_str() and yamux_type_name() on whatever was decoded, with
 * buffer sizes taken from the input, to check bounds and termination.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/yamux_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	for (;;) {
		struct yamux_hdr h;
		memset(&h, 0, sizeof(h));
		size_t left = size - off;
		int rc = yamux_hdr_decode(data + off, left, &h);
		if (left < YAMUX_HDR_LEN) {
			check(rc == YAMUX_DECODE_NEED_MORE);
			break;
		}
		const uint8_t *p = data + off;
		/* the fields are the bytes, big-endian, whatever the verdict */
		check(h.version == p[0]);
		check(h.type == p[1]);
		check(h.flags == (uint16_t)(p[2] << 8 | p[3]));
		check(h.stream_id == be32(p + 4));
		check(h.length == be32(p + 8));
		if (p[0] != YAMUX_VERSION)
			check(rc == YAMUX_DECODE_BAD_VERSION);
		else if (p[1] > YAMUX_GO_AWAY)
			check(rc == YAMUX_DECODE_BAD_TYPE);
		else
			check(rc == YAMUX_DECODE_OK);

		/* re-encode: identical except the version, which is always 0 */
		uint8_t out[YAMUX_HDR_LEN];
		yamux_hdr_encode(out, h.type, h.flags, h.stream_id, h.length);
		check(out[0] == YAMUX_VERSION);
		check(memcmp(out + 1, p + 1, YAMUX_HDR_LEN - 1) == 0);
		if (rc == YAMUX_DECODE_OK) {
			check(memcmp(out, p, YAMUX_HDR_LEN) == 0);
			struct yamux_hdr h2;
			check(yamux_hdr_decode(out, sizeof(out), &h2) == YAMUX_DECODE_OK);
			check(h2.type == h.type && h2.flags == h.flags && h2.stream_id == h.stream_id &&
			      h2.length == h.length);
		}

		/* names: always a terminated string within the given length */
		const char *tn = yamux_type_name(h.type);
		check(tn != NULL && strlen(tn) < 16);
		char big[64];
		check(yamux_flags_str(h.flags, big, sizeof(big)) == big);
		check(strlen(big) > 0 && strlen(big) < sizeof(big));
		size_t small_len = p[11] % 24; /* 0..23, from the input */
		char *small = malloc(small_len ? small_len : 1);
		if (small == NULL)
			abort();
		memset(small, 'z', small_len ? small_len : 1);
		yamux_flags_str(h.flags, small, small_len);
		if (small_len > 0) {
			check(memchr(small, '\0', small_len) != NULL);
			/* a truncated text is a prefix of the full one */
			check(strncmp(small, big, strlen(small)) == 0);
		}
		free(small);

		off += YAMUX_HDR_LEN;
		if (rc != YAMUX_DECODE_OK)
			continue; /* a session would die here; keep walking for coverage */
		if (h.type == YAMUX_DATA) {
			if (h.length > size - off)
				break;
			off += h.length;
		}
	}
	return 0;
}
