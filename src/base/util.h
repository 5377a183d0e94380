/*
 * util: small helpers shared by every module. Header only, no state.
 */
#ifndef THRESHOLD_BASE_UTIL_H
#define THRESHOLD_BASE_UTIL_H

#include <stddef.h>

/* The struct of type `type` whose member `member` is at `ptr`. */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Number of elements of a true array (not a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Evaluate their arguments more than once: no side effects in arguments. */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
