/*
 * yamux_frame: the 12-byte yamux frame header, pure codec.
 *
 *   offset size field
 *   0      1    version   always 0
 *   1      1    type      0 Data, 1 WindowUpdate, 2 Ping, 3 GoAway
 *   2      2    flags     0x1 SYN, 0x2 ACK, 0x4 FIN, 0x8 RST (big-endian)
 *   4      4    stream id 0 for Ping and GoAway (big-endian)
 *   8      4    length    Data: payload bytes; WindowUpdate: window delta;
 *                         Ping: opaque value; GoAway: error code (big-endian)
 *
 * Only Data frames are followed by `length` payload bytes.
 */
#ifndef THRESHOLD_YAMUX_FRAME_H
#define THRESHOLD_YAMUX_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define YAMUX_HDR_LEN 12
#define YAMUX_VERSION 0

enum yamux_type {
	YAMUX_DATA = 0,
	YAMUX_WINDOW_UPDATE = 1,
	YAMUX_PING = 2,
	YAMUX_GO_AWAY = 3,
};

enum yamux_flag {
	YAMUX_SYN = 0x1,
	YAMUX_ACK = 0x2,
	YAMUX_FIN = 0x4,
	YAMUX_RST = 0x8,
};

struct yamux_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t stream_id;
	uint32_t length;
};

/* Result of yamux_hdr_decode(). */
enum yamux_decode {
	YAMUX_DECODE_OK = 0,	       /* *h filled, YAMUX_HDR_LEN bytes consumed */
	YAMUX_DECODE_NEED_MORE = -1,   /* fewer than 12 bytes available */
	YAMUX_DECODE_BAD_VERSION = -2, /* version != 0; *h filled anyway */
	YAMUX_DECODE_BAD_TYPE = -3,    /* type > 3; *h filled anyway */
};

/* Writes the 12 header bytes into out. */
void yamux_hdr_encode(uint8_t out[YAMUX_HDR_LEN], uint8_t type, uint16_t flags, uint32_t stream_id,
		      uint32_t length);
/* Decodes the first 12 bytes of p[0..n). Pure; reads nothing past p+n. */
int yamux_hdr_decode(const uint8_t *p, size_t n, struct yamux_hdr *h);
/* Short name of a frame type ("Data", "WindowUpdate", ...; "?" if unknown). */
const char *yamux_type_name(uint8_t type);
/* Writes e.g. "SYN|ACK" (or "0") into buf; returns buf. */
char *yamux_flags_str(uint16_t flags, char *buf, size_t len);

#endif
