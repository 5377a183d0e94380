/*
 * Fuzz target for wire/tls_sni.
 *
 * Besides memory safety (the Go original crashed on 5 bytes) it checks the
 * parser's contracts over the input as received bytes:
 *   - results are from the documented set, with the documented span: the
 *     hello's extent for OK / NO_SNI / BAD_NAME (<= input, <= SNI_SPAN_MAX),
 *     a length beyond the input for NEED_MORE, 0 for errors;
 *   - an OK name is valid, lowercase, NUL-terminated, of name_len bytes;
 *   - arriving in pieces changes nothing: a prefix gives NEED_MORE or the
 *     same error; a prefix of at least the span gives the same answer; the
 *     NEED_MORE hint never points past the span of the complete hello;
 *   - a hello in one record parses the same when re-framed into two records
 *     at an input-chosen cut (and is then 5 bytes longer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/tls_sni.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static bool complete(int rc)
{
	return rc == SNI_OK || rc == SNI_NO_SNI || rc == SNI_BAD_NAME;
}

static void check_info(int rc, const struct sni_info *in, size_t size)
{
	CHECK(rc <= SNI_OK && rc >= SNI_BAD_NAME);
	CHECK(in->name_len == strlen(in->name));
	if (rc == SNI_OK) {
		CHECK(in->name_len > 0 && in->name_len <= SNI_NAME_MAX);
		CHECK(sni_name_valid(in->name, in->name_len));
		for (size_t i = 0; i < in->name_len; i++)
			CHECK(!(in->name[i] >= 'A' && in->name[i] <= 'Z'));
	} else {
		CHECK(in->name_len == 0);
	}
	if (complete(rc))
		CHECK(in->span >= 5 + 4 + 38 && in->span <= size && in->span <= SNI_SPAN_MAX);
	else if (rc == SNI_NEED_MORE)
		CHECK(in->span > size && in->span <= SNI_SPAN_MAX);
	else
		CHECK(in->span == 0);
}

/* A few prefix lengths below n chosen from the input, plus the extremes. */
static size_t pick(const uint8_t *data, size_t n, unsigned i)
{
	if (i == 0)
		return n - 1;
	if (i == 1)
		return n / 2;
	if (i == 2)
		return 5;
	return ((size_t)data[i % n] * 131u + i * 7919u) % n;
}

static void check_prefixes(const uint8_t *data, size_t size, int rc, const struct sni_info *full)
{
	for (unsigned i = 0; i < 12 && size > 0; i++) {
		size_t k = pick(data, size, i);
		if (k >= size)
			continue;
		struct sni_info in;
		int r = sni_parse(data, k, &in);
		check_info(r, &in, k);
		if (complete(rc) && k >= full->span) {
			CHECK(r == rc && in.span == full->span && strcmp(in.name, full->name) == 0);
		} else if (complete(rc)) {
			CHECK(r == SNI_NEED_MORE && in.span <= full->span);
		} else if (rc == SNI_NEED_MORE) {
			CHECK(r == SNI_NEED_MORE && in.span <= full->span);
		} else {
			CHECK(r == SNI_NEED_MORE || r == rc);
		}
	}
}

/* Re-frames a complete single-record hello into two records. */
static void check_reframe(const uint8_t *data, int rc, const struct sni_info *full)
{
	if (!complete(rc))
		return;
	size_t rl = (size_t)data[3] << 8 | data[4];
	if (full->span != 5 + rl || rl < 2)
		return;
	size_t cut = 1 + ((size_t)data[5 + rl - 1] * 257u + data[5 + rl / 2]) % (rl - 1);
	uint8_t *two = malloc(full->span + 5);
	CHECK(two != NULL);
	memcpy(two, data, 5);
	two[3] = (uint8_t)(cut >> 8);
	two[4] = (uint8_t)cut;
	memcpy(two + 5, data + 5, cut);
	memcpy(two + 5 + cut, data, 3);
	two[5 + cut + 3] = (uint8_t)((rl - cut) >> 8);
	two[5 + cut + 4] = (uint8_t)(rl - cut);
	memcpy(two + 10 + cut, data + 5 + cut, rl - cut);
	struct sni_info in;
	int r = sni_parse(two, full->span + 5, &in);
	/* Only the span cap can tell the two apart. */
	if (full->span + 5 <= SNI_SPAN_MAX) {
		CHECK(r == rc && in.span == full->span + 5 && strcmp(in.name, full->name) == 0);
	}
	free(two);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sni_info full;
	int rc = sni_parse(data, size, &full);
	check_info(rc, &full, size);
	if (size > 0 && data[0] != 0x16)
		CHECK(rc == SNI_NOT_TLS);
	check_prefixes(data, size, rc, &full);
	check_reframe(data, rc, &full);
	return 0;
}
