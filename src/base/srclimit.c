#include "base/srclimit.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct srclimit_slot {
	uint8_t key[16];
	uint32_t count; /* 0: empty */
	uint32_t pad;
};

#define MIN_SLOTS 64

/* The source key of an address: IPv4 as ::ffff:a.b.c.d, IPv6 by /64. */
static void make_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(a, mapped, 12) == 0)
			memcpy(key, a, 16);
		else
			memcpy(key, a, 8);
	}
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static size_t hash_key(const struct srclimit *s, const uint8_t key[16])
{
	uint64_t a, b;
	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return (size_t)mix(mix(a ^ s->seed) ^ b);
}

void srclimit_init(struct srclimit *s, size_t per_source, size_t max_total)
{
	memset(s, 0, sizeof(*s));
	s->per_source = per_source;
	s->max_total = max_total;
	if (getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) != (ssize_t)sizeof(s->seed)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s->seed = mix((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32));
	}
}

void srclimit_fini(struct srclimit *s)
{
	free(s->slots);
	s->slots = NULL;
	s->mask = 0;
	s->nsources = 0;
	s->total = 0;
}

void srclimit_set_limits(struct srclimit *s, size_t per_source, size_t max_total)
{
	s->per_source = per_source;
	s->max_total = max_total;
}

/* The slot holding `key`, or the empty slot where it would go. */
static struct srclimit_slot *find(const struct srclimit *s, const uint8_t key[16])
{
	size_t i = hash_key(s, key) & s->mask;
	for (;;) {
		struct srclimit_slot *sl = &s->slots[i];
		if (sl->count == 0 || memcmp(sl->key, key, 16) == 0)
			return sl;
		i = (i + 1) & s->mask;
	}
}

static int resize(struct srclimit *s, size_t cap)
{
	struct srclimit_slot *old = s->slots;
	size_t oldcap = old ? s->mask + 1 : 0;
	struct srclimit_slot *n = calloc(cap, sizeof(*n));
	if (n == NULL)
		return -1;
	s->slots = n;
	s->mask = cap - 1;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].count != 0)
			*find(s, old[i].key) = old[i];
	}
	free(old);
	return 0;
}

int srclimit_take(struct srclimit *s, const struct sockaddr *sa)
{
	if (s->max_total != 0 && s->total >= s->max_total) {
		s->refused_total++;
		return SRCLIMIT_E_TOTAL;
	}
	if (s->slots == NULL || (s->nsources + 1) * 2 > s->mask + 1) {
		size_t cap = s->slots ? (s->mask + 1) * 2 : MIN_SLOTS;
		if (resize(s, cap) < 0)
			return SRCLIMIT_E_NOMEM;
	}
	uint8_t key[16];
	make_key(sa, key);
	struct srclimit_slot *sl = find(s, key);
	if (s->per_source != 0 && sl->count >= s->per_source) {
		s->refused_source++;
		return SRCLIMIT_E_SOURCE;
	}
	if (sl->count == 0) {
		memcpy(sl->key, key, 16);
		s->nsources++;
	}
	sl->count++;
	s->total++;
	return 0;
}

/* Backward-shift deletion: no tombstones, probe chains stay short. */
static void remove_at(struct srclimit *s, size_t i)
{
	size_t j = i;
	for (;;) {
		j = (j + 1) & s->mask;
		if (s->slots[j].count == 0)
			break;
		size_t home = hash_key(s, s->slots[j].key) & s->mask;
		/* Move j back to i when its home is not cyclically in (i, j]. */
		bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!in_range) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	memset(&s->slots[i], 0, sizeof(s->slots[i]));
}

void srclimit_put(struct srclimit *s, const struct sockaddr *sa)
{
	if (s->slots == NULL)
		return;
	uint8_t key[16];
	make_key(sa, key);
	struct srclimit_slot *sl = find(s, key);
	if (sl->count == 0)
		return; /* not held: nothing to give back */
	sl->count--;
	s->total--;
	if (sl->count == 0) {
		s->nsources--;
		remove_at(s, (size_t)(sl - s->slots));
		if (s->nsources == 0) {
			free(s->slots);
			s->slots = NULL;
			s->mask = 0;
		} else if (s->mask + 1 > MIN_SLOTS && s->nsources * 8 < s->mask + 1) {
			resize(s, (s->mask + 1) / 2); /* on failure the big table stays */
		}
	}
}

size_t srclimit_count(const struct srclimit *s, const struct sockaddr *sa)
{
	if (s->slots == NULL)
		return 0;
	uint8_t key[16];
	make_key(sa, key);
	return find(s, key)->count;
}
