#include "wire/yamux_frame.h"

#include <stdio.h>
#include <string.h>

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void yamux_hdr_encode(uint8_t out[YAMUX_HDR_LEN], uint8_t type, uint16_t flags, uint32_t stream_id,
		      uint32_t length)
{
	out[0] = YAMUX_VERSION;
	out[1] = type;
	put_be16(out + 2, flags);
	put_be32(out + 4, stream_id);
	put_be32(out + 8, length);
}

int yamux_hdr_decode(const uint8_t *p, size_t n, struct yamux_hdr *h)
{
	if (n < YAMUX_HDR_LEN)
		return YAMUX_DECODE_NEED_MORE;
	h->version = p[0];
	h->type = p[1];
	h->flags = (uint16_t)((uint16_t)p[2] << 8 | p[3]);
	h->stream_id = get_be32(p + 4);
	h->length = get_be32(p + 8);
	if (h->version != YAMUX_VERSION)
		return YAMUX_DECODE_BAD_VERSION;
	if (h->type > YAMUX_GO_AWAY)
		return YAMUX_DECODE_BAD_TYPE;
	return YAMUX_DECODE_OK;
}

const char *yamux_type_name(uint8_t type)
{
	static const char *const names[] = { "Data", "WindowUpdate", "Ping", "GoAway" };
	return type <= YAMUX_GO_AWAY ? names[type] : "?";
}

char *yamux_flags_str(uint16_t flags, char *buf, size_t len)
{
	static const char *const names[] = { "SYN", "ACK", "FIN", "RST" };
	size_t off = 0;
	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < 4; i++) {
		if (!(flags & (1u << i)))
			continue;
		int w = snprintf(buf + off, len - off, "%s%s", off ? "|" : "", names[i]);
		if (w < 0 || (size_t)w >= len - off)
			return buf;
		off += (size_t)w;
	}
	uint16_t rest = flags & (uint16_t)~0xfu;
	if (rest)
		snprintf(buf + off, len - off, "%s0x%x", off ? "|" : "", rest);
	else if (off == 0)
		snprintf(buf, len, "0");
	return buf;
}
