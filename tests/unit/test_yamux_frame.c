/*
 * Unit tests for wire/yamux_frame: the 12-byte yamux header codec.
 *
 * Every vector is written out field by field:
 *   version(1) type(1) flags(2, BE) stream id(4, BE) length(4, BE)
 * and checked both ways: encode(fields) == bytes, decode(bytes) == fields.
 * The first group is the session trace of go-original.md §3.5, frame by
 * frame; the rest covers every frame type and flag combination yamux uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/yamux_frame.h"

struct vec {
	const char *name;
	uint8_t wire[YAMUX_HDR_LEN];
	uint8_t type;
	uint16_t flags;
	uint32_t id;
	uint32_t length;
};

/* go-original.md §3.5, in trace order. */
static const struct vec trace[] = {
	{"C->S WU|SYN id1 (open control stream)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x01,		  /* flags SYN */
	  0x00, 0x00, 0x00, 0x01, /* stream id 1 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0},
	{"C->S Data id1 \"controlHandshake\"",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x01, /* stream id 1 */
	  0x00, 0x00, 0x00, 0x10}, /* length 16 */
	 YAMUX_DATA, 0, 1, 16},
	{"S->C WU|ACK id1 (accept control stream)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x02,		  /* flags ACK */
	  0x00, 0x00, 0x00, 0x01, /* stream id 1 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0},
	{"S->C Data id1 \"controlOk\"",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x01, /* stream id 1 */
	  0x00, 0x00, 0x00, 0x09}, /* length 9 */
	 YAMUX_DATA, 0, 1, 9},
	{"S->C Data id1 control message",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x01, /* stream id 1 */
	  0x00, 0x00, 0x00, 0x24}, /* length 36 */
	 YAMUX_DATA, 0, 1, 36},
	{"C->S WU|SYN id3 (tunneled connection)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x01,		  /* flags SYN */
	  0x00, 0x00, 0x00, 0x03, /* stream id 3 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 0},
	{"S->C WU|ACK id3",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x02,		  /* flags ACK */
	  0x00, 0x00, 0x00, 0x03, /* stream id 3 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_ACK, 3, 0},
	{"S->C Data id3 PROXY line",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x03, /* stream id 3 */
	  0x00, 0x00, 0x00, 0x2b}, /* length 43 */
	 YAMUX_DATA, 0, 3, 43},
	{"C->S WU|FIN id3 (half-close)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x04,		  /* flags FIN */
	  0x00, 0x00, 0x00, 0x03, /* stream id 3 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, 0},
	{"Ping|SYN id 0 (keepalive ping, ping id 0)",
	 {0x00,			  /* version 0 */
	  0x02,			  /* type 2 Ping */
	  0x00, 0x01,		  /* flags SYN */
	  0x00, 0x00, 0x00, 0x00, /* stream id 0 (session) */
	  0x00, 0x00, 0x00, 0x00}, /* opaque value 0 */
	 YAMUX_PING, YAMUX_SYN, 0, 0},
	{"Ping|ACK id 0 (pong, ping id 0)",
	 {0x00,			  /* version 0 */
	  0x02,			  /* type 2 Ping */
	  0x00, 0x02,		  /* flags ACK */
	  0x00, 0x00, 0x00, 0x00, /* stream id 0 (session) */
	  0x00, 0x00, 0x00, 0x00}, /* opaque value 0 */
	 YAMUX_PING, YAMUX_ACK, 0, 0},
};

/* Every type and the flag combinations a yamux peer produces or must take. */
static const struct vec combos[] = {
	{"Data, no flags, id 5, 1 byte",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x05, /* stream id 5 */
	  0x00, 0x00, 0x00, 0x01}, /* length 1 */
	 YAMUX_DATA, 0, 5, 1},
	{"Data|SYN (open carried on data), id 7, 256 KiB",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x01,		  /* flags SYN */
	  0x00, 0x00, 0x00, 0x07, /* stream id 7 */
	  0x00, 0x04, 0x00, 0x00}, /* length 262144 */
	 YAMUX_DATA, YAMUX_SYN, 7, 262144},
	{"Data|ACK (accept carried on data), id 2",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x02,		  /* flags ACK */
	  0x00, 0x00, 0x00, 0x02, /* stream id 2 */
	  0x00, 0x00, 0x01, 0x00}, /* length 256 */
	 YAMUX_DATA, YAMUX_ACK, 2, 256},
	{"Data|FIN (last data), id 9",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x04,		  /* flags FIN */
	  0x00, 0x00, 0x00, 0x09, /* stream id 9 */
	  0x00, 0x00, 0x00, 0x03}, /* length 3 */
	 YAMUX_DATA, YAMUX_FIN, 9, 3},
	{"Data|RST, id 11, empty",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x08,		  /* flags RST */
	  0x00, 0x00, 0x00, 0x0b, /* stream id 11 */
	  0x00, 0x00, 0x00, 0x00}, /* length 0 */
	 YAMUX_DATA, YAMUX_RST, 11, 0},
	{"Data|SYN|FIN (open, send, close in one frame), id 13",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x05,		  /* flags SYN|FIN */
	  0x00, 0x00, 0x00, 0x0d, /* stream id 13 */
	  0x00, 0x00, 0x00, 0x04}, /* length 4 */
	 YAMUX_DATA, YAMUX_SYN | YAMUX_FIN, 13, 4},
	{"Data|ACK|FIN, id 4",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x00, 0x06,		  /* flags ACK|FIN */
	  0x00, 0x00, 0x00, 0x04, /* stream id 4 */
	  0x00, 0x00, 0x00, 0x02}, /* length 2 */
	 YAMUX_DATA, YAMUX_ACK | YAMUX_FIN, 4, 2},
	{"WU, no flags, id 1, delta 128 KiB (credit return)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x01, /* stream id 1 */
	  0x00, 0x02, 0x00, 0x00}, /* delta 131072 */
	 YAMUX_WINDOW_UPDATE, 0, 1, 131072},
	{"WU|SYN, id 1, delta 8 MiB - 256 KiB (open with a large window)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x01,		  /* flags SYN */
	  0x00, 0x00, 0x00, 0x01, /* stream id 1 */
	  0x00, 0x7c, 0x00, 0x00}, /* delta 8126464 */
	 YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 8126464},
	{"WU|ACK, id 2, delta 768 KiB (accept with a 1 MiB window)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x02,		  /* flags ACK */
	  0x00, 0x00, 0x00, 0x02, /* stream id 2 */
	  0x00, 0x0c, 0x00, 0x00}, /* delta 786432 */
	 YAMUX_WINDOW_UPDATE, YAMUX_ACK, 2, 786432},
	{"WU|FIN, id 3",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x04,		  /* flags FIN */
	  0x00, 0x00, 0x00, 0x03, /* stream id 3 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, 0},
	{"WU|RST, id 3 (refused or aborted stream)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x08,		  /* flags RST */
	  0x00, 0x00, 0x00, 0x03, /* stream id 3 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0},
	{"WU|ACK|FIN, id 5 (close before accept: yamux sends both)",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x06,		  /* flags ACK|FIN */
	  0x00, 0x00, 0x00, 0x05, /* stream id 5 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 5, 0},
	{"WU|SYN|FIN, id 15",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x05,		  /* flags SYN|FIN */
	  0x00, 0x00, 0x00, 0x0f, /* stream id 15 */
	  0x00, 0x00, 0x00, 0x00}, /* delta 0 */
	 YAMUX_WINDOW_UPDATE, YAMUX_SYN | YAMUX_FIN, 15, 0},
	{"WU|SYN|ACK|FIN|RST, max even id, max delta",
	 {0x00,			  /* version 0 */
	  0x01,			  /* type 1 WindowUpdate */
	  0x00, 0x0f,		  /* flags SYN|ACK|FIN|RST */
	  0xff, 0xff, 0xff, 0xfe, /* stream id 4294967294 */
	  0xff, 0xff, 0xff, 0xff}, /* delta 4294967295 */
	 YAMUX_WINDOW_UPDATE, 0x0f, 0xfffffffeu, 0xffffffffu},
	{"Ping|SYN, value 0xdeadbeef",
	 {0x00,			  /* version 0 */
	  0x02,			  /* type 2 Ping */
	  0x00, 0x01,		  /* flags SYN */
	  0x00, 0x00, 0x00, 0x00, /* stream id 0 */
	  0xde, 0xad, 0xbe, 0xef}, /* opaque 0xdeadbeef */
	 YAMUX_PING, YAMUX_SYN, 0, 0xdeadbeefu},
	{"Ping|ACK, value 0xdeadbeef",
	 {0x00,			  /* version 0 */
	  0x02,			  /* type 2 Ping */
	  0x00, 0x02,		  /* flags ACK */
	  0x00, 0x00, 0x00, 0x00, /* stream id 0 */
	  0xde, 0xad, 0xbe, 0xef}, /* opaque 0xdeadbeef */
	 YAMUX_PING, YAMUX_ACK, 0, 0xdeadbeefu},
	{"GoAway 0 (normal: no new streams)",
	 {0x00,			  /* version 0 */
	  0x03,			  /* type 3 GoAway */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x00, /* stream id 0 */
	  0x00, 0x00, 0x00, 0x00}, /* code 0 */
	 YAMUX_GO_AWAY, 0, 0, 0},
	{"GoAway 1 (protocol error)",
	 {0x00,			  /* version 0 */
	  0x03,			  /* type 3 GoAway */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x00, /* stream id 0 */
	  0x00, 0x00, 0x00, 0x01}, /* code 1 */
	 YAMUX_GO_AWAY, 0, 0, 1},
	{"GoAway 2 (internal error)",
	 {0x00,			  /* version 0 */
	  0x03,			  /* type 3 GoAway */
	  0x00, 0x00,		  /* flags none */
	  0x00, 0x00, 0x00, 0x00, /* stream id 0 */
	  0x00, 0x00, 0x00, 0x02}, /* code 2 */
	 YAMUX_GO_AWAY, 0, 0, 2},
	{"unknown flag bits survive (0x8010)",
	 {0x00,			  /* version 0 */
	  0x00,			  /* type 0 Data */
	  0x80, 0x10,		  /* flags 0x8010 (no yamux meaning) */
	  0x01, 0x02, 0x03, 0x04, /* stream id 0x01020304 */
	  0x00, 0x00, 0x00, 0x00}, /* length 0 */
	 YAMUX_DATA, 0x8010, 0x01020304u, 0},
};

static void check_vec(const struct vec *v)
{
	uint8_t out[YAMUX_HDR_LEN];
	memset(out, 0xaa, sizeof(out));
	yamux_hdr_encode(out, v->type, v->flags, v->id, v->length);
	if (memcmp(out, v->wire, YAMUX_HDR_LEN) != 0)
		fail_msg("encode mismatch: %s", v->name);

	struct yamux_hdr h;
	memset(&h, 0x55, sizeof(h));
	assert_int_equal(yamux_hdr_decode(v->wire, YAMUX_HDR_LEN, &h), YAMUX_DECODE_OK);
	assert_int_equal(h.version, 0);
	assert_int_equal(h.type, v->type);
	assert_int_equal(h.flags, v->flags);
	assert_int_equal(h.stream_id, v->id);
	assert_int_equal(h.length, v->length);
}

static void test_trace_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(trace) / sizeof(trace[0]); i++)
		check_vec(&trace[i]);
}

static void test_type_flag_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++)
		check_vec(&combos[i]);
}

/* The trace's Data frames with their payload: the header is decoded from the
 * front of the frame, and the payload is exactly `length` bytes after it. */
static void test_trace_data_frames_with_payload(void **state)
{
	(void)state;
	static const struct {
		const struct vec *hdr;
		const char *payload;
	} frames[] = {
		{&trace[1], "controlHandshake"},
		{&trace[3], "controlOk"},
		{&trace[4], "{\"action\":1,\"service\":\"fooService\"}\n"},
		{&trace[7], "PROXY TCP4 127.0.0.1 127.0.0.1 59382 9000\r\n"},
	};
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		size_t plen = strlen(frames[i].payload);
		assert_int_equal(plen, frames[i].hdr->length);
		uint8_t buf[YAMUX_HDR_LEN + 64];
		memcpy(buf, frames[i].hdr->wire, YAMUX_HDR_LEN);
		memcpy(buf + YAMUX_HDR_LEN, frames[i].payload, plen);
		struct yamux_hdr h;
		assert_int_equal(yamux_hdr_decode(buf, YAMUX_HDR_LEN + plen, &h), YAMUX_DECODE_OK);
		assert_int_equal(h.type, YAMUX_DATA);
		assert_int_equal(h.length, plen);
		assert_memory_equal(buf + YAMUX_HDR_LEN, frames[i].payload, plen);
	}
}

/* Exhaustive: every type 0..3 with every flag value 0..15 round-trips. */
static void test_roundtrip_all_types_flags(void **state)
{
	(void)state;
	static const uint32_t ids[] = {0, 1, 2, 0x7fffffffu, 0xffffffffu};
	static const uint32_t lens[] = {0, 1, 0x100, 0x40000, 0x80000000u, 0xffffffffu};
	for (unsigned t = 0; t <= YAMUX_GO_AWAY; t++)
		for (unsigned f = 0; f < 16; f++)
			for (size_t i = 0; i < 5; i++)
				for (size_t l = 0; l < 6; l++) {
					uint8_t out[YAMUX_HDR_LEN];
					yamux_hdr_encode(out, (uint8_t)t, (uint16_t)f, ids[i], lens[l]);
					/* field by field, big-endian */
					assert_int_equal(out[0], 0);
					assert_int_equal(out[1], t);
					assert_int_equal(out[2], 0);
					assert_int_equal(out[3], f);
					assert_int_equal(out[4], ids[i] >> 24);
					assert_int_equal(out[7], ids[i] & 0xff);
					assert_int_equal(out[8], lens[l] >> 24);
					assert_int_equal(out[11], lens[l] & 0xff);
					struct yamux_hdr h;
					assert_int_equal(yamux_hdr_decode(out, sizeof(out), &h), YAMUX_DECODE_OK);
					assert_int_equal(h.type, t);
					assert_int_equal(h.flags, f);
					assert_int_equal(h.stream_id, ids[i]);
					assert_int_equal(h.length, lens[l]);
				}
}

/* Every truncation of every vector is "need more", and the decoder reads
 * nothing past p+n (exact-size heap copies, so ASan sees any overread). */
static void test_need_more_every_truncation(void **state)
{
	(void)state;
	const struct vec *all[sizeof(trace) / sizeof(trace[0]) + sizeof(combos) / sizeof(combos[0])];
	size_t na = 0;
	for (size_t i = 0; i < sizeof(trace) / sizeof(trace[0]); i++)
		all[na++] = &trace[i];
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++)
		all[na++] = &combos[i];
	for (size_t i = 0; i < na; i++) {
		for (size_t n = 0; n < YAMUX_HDR_LEN; n++) {
			uint8_t *p = malloc(n ? n : 1);
			assert_non_null(p);
			memcpy(p, all[i]->wire, n);
			struct yamux_hdr h;
			memset(&h, 0x77, sizeof(h));
			assert_int_equal(yamux_hdr_decode(p, n, &h), YAMUX_DECODE_NEED_MORE);
			/* *h is not touched on need-more */
			assert_int_equal(h.type, 0x77);
			free(p);
		}
		/* 12 bytes exactly is enough, trailing bytes are ignored */
		uint8_t *p = malloc(YAMUX_HDR_LEN);
		assert_non_null(p);
		memcpy(p, all[i]->wire, YAMUX_HDR_LEN);
		struct yamux_hdr h;
		assert_int_equal(yamux_hdr_decode(p, YAMUX_HDR_LEN, &h), YAMUX_DECODE_OK);
		free(p);
	}
	struct yamux_hdr h;
	assert_int_equal(yamux_hdr_decode(NULL, 0, &h), YAMUX_DECODE_NEED_MORE);
}

static void test_bad_version(void **state)
{
	(void)state;
	static const uint8_t v1[YAMUX_HDR_LEN] = {
		0x01,			/* version 1: invalid */
		0x00,			/* type 0 Data */
		0x00, 0x00,		/* flags none */
		0x00, 0x00, 0x00, 0x01, /* stream id 1 */
		0x00, 0x00, 0x00, 0x05, /* length 5 */
	};
	static const uint8_t vff[YAMUX_HDR_LEN] = {
		0xff,			/* version 255: invalid */
		0x07,			/* type 7: also invalid, version wins */
		0x00, 0x01,		/* flags SYN */
		0x00, 0x00, 0x00, 0x02, /* stream id 2 */
		0x00, 0x00, 0x00, 0x00, /* length 0 */
	};
	struct yamux_hdr h;
	assert_int_equal(yamux_hdr_decode(v1, sizeof(v1), &h), YAMUX_DECODE_BAD_VERSION);
	/* filled anyway, for logging */
	assert_int_equal(h.version, 1);
	assert_int_equal(h.type, 0);
	assert_int_equal(h.stream_id, 1);
	assert_int_equal(h.length, 5);
	assert_int_equal(yamux_hdr_decode(vff, sizeof(vff), &h), YAMUX_DECODE_BAD_VERSION);
	assert_int_equal(h.version, 0xff);
	assert_int_equal(h.type, 7);
	assert_int_equal(h.flags, YAMUX_SYN);
	/* need-more beats bad version */
	assert_int_equal(yamux_hdr_decode(v1, 11, &h), YAMUX_DECODE_NEED_MORE);
	assert_int_equal(yamux_hdr_decode(v1, 1, &h), YAMUX_DECODE_NEED_MORE);
}

static void test_bad_type(void **state)
{
	(void)state;
	for (unsigned t = 4; t <= 0xff; t++) {
		uint8_t b[YAMUX_HDR_LEN] = {
			0x00,			/* version 0 */
			(uint8_t)t,		/* type 4..255: invalid */
			0x00, 0x02,		/* flags ACK */
			0x00, 0x00, 0x00, 0x09, /* stream id 9 */
			0x00, 0x00, 0x00, 0x01, /* length 1 */
		};
		struct yamux_hdr h;
		assert_int_equal(yamux_hdr_decode(b, sizeof(b), &h), YAMUX_DECODE_BAD_TYPE);
		assert_int_equal(h.type, t);
		assert_int_equal(h.flags, YAMUX_ACK);
		assert_int_equal(h.stream_id, 9);
		assert_int_equal(h.length, 1);
		assert_string_equal(yamux_type_name((uint8_t)t), "?");
	}
}

static void test_type_name(void **state)
{
	(void)state;
	assert_string_equal(yamux_type_name(YAMUX_DATA), "Data");
	assert_string_equal(yamux_type_name(YAMUX_WINDOW_UPDATE), "WindowUpdate");
	assert_string_equal(yamux_type_name(YAMUX_PING), "Ping");
	assert_string_equal(yamux_type_name(YAMUX_GO_AWAY), "GoAway");
	assert_string_equal(yamux_type_name(4), "?");
}

static void test_flags_str(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(yamux_flags_str(0, buf, sizeof(buf)), "0");
	assert_string_equal(yamux_flags_str(YAMUX_SYN, buf, sizeof(buf)), "SYN");
	assert_string_equal(yamux_flags_str(YAMUX_ACK, buf, sizeof(buf)), "ACK");
	assert_string_equal(yamux_flags_str(YAMUX_FIN, buf, sizeof(buf)), "FIN");
	assert_string_equal(yamux_flags_str(YAMUX_RST, buf, sizeof(buf)), "RST");
	assert_string_equal(yamux_flags_str(YAMUX_ACK | YAMUX_FIN, buf, sizeof(buf)), "ACK|FIN");
	assert_string_equal(yamux_flags_str(YAMUX_SYN | YAMUX_FIN, buf, sizeof(buf)), "SYN|FIN");
	assert_string_equal(yamux_flags_str(0x0f, buf, sizeof(buf)), "SYN|ACK|FIN|RST");
	assert_string_equal(yamux_flags_str(0x10, buf, sizeof(buf)), "0x10");
	assert_string_equal(yamux_flags_str(0x8013, buf, sizeof(buf)), "SYN|ACK|0x8010");
	assert_string_equal(yamux_flags_str(0xffff, buf, sizeof(buf)), "SYN|ACK|FIN|RST|0xfff0");
	/* the buffer bounds the text; it is always terminated */
	char small[8];
	memset(small, 'x', sizeof(small));
	assert_string_equal(yamux_flags_str(YAMUX_SYN | YAMUX_ACK, small, 4), "SYN");
	assert_string_equal(yamux_flags_str(YAMUX_SYN | YAMUX_ACK, small, 8), "SYN|ACK");
	assert_string_equal(yamux_flags_str(YAMUX_SYN | YAMUX_ACK, small, 7), "SYN|AC");
	assert_string_equal(yamux_flags_str(YAMUX_SYN, small, 1), "");
	assert_string_equal(yamux_flags_str(0, small, 1), "");
	assert_string_equal(yamux_flags_str(0, small, 2), "0");
	assert_string_equal(yamux_flags_str(0x20, small, 3), "0x");
	small[0] = 'q';
	assert_ptr_equal(yamux_flags_str(YAMUX_SYN, small, 0), small);
	assert_int_equal(small[0], 'q'); /* len 0: nothing written */
	/* every 16-bit value fits a 40-byte buffer and never overflows a tiny one */
	for (unsigned f = 0; f <= 0xffff; f++) {
		char b40[40], b5[5];
		yamux_flags_str((uint16_t)f, b40, sizeof(b40));
		assert_true(strlen(b40) < sizeof(b40));
		yamux_flags_str((uint16_t)f, b5, sizeof(b5));
		assert_true(strlen(b5) < sizeof(b5));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_vectors),
		cmocka_unit_test(test_type_flag_vectors),
		cmocka_unit_test(test_trace_data_frames_with_payload),
		cmocka_unit_test(test_roundtrip_all_types_flags),
		cmocka_unit_test(test_need_more_every_truncation),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_type_name),
		cmocka_unit_test(test_flags_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
