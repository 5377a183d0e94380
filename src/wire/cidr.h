/*
 * cidr: IPv4/IPv6 address ranges ("10.0.0.0/8", "2001:db8::/32", or a
 * single address), pure. IPv4-mapped IPv6 addresses match IPv4 ranges.
 */
#ifndef THRESHOLD_WIRE_CIDR_H
#define THRESHOLD_WIRE_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address (host bits cleared) */
	unsigned prefix;  /* 0-32 or 0-128 */
};

/* Parses s; 0 or -1 (not an address, prefix out of range, junk). */
int cidr_parse(const char *s, struct cidr *out);
/* Whether the address in ss falls in c. */
bool cidr_match(const struct cidr *c, const struct sockaddr_storage *ss);
/* Canonical text ("10.0.0.0/8"); buf of 64 bytes suffices. */
void cidr_format(const struct cidr *c, char *buf, size_t len);

#endif
