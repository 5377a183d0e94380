/*
 * certs_cli: `threshold certs ...`, the command line of certs_make
 * (certs_main in certs.h): options into a `struct certs_opts`, the set
 * made, then what to run next.
 */
#include "tunnel/certs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sock.h"

/* ---- command line ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: threshold certs --dir DIR [options]\n"
		"\n"
		"Makes a private CA, a server certificate, one client certificate per\n"
		"client id and an admin certificate for the management API, plus\n"
		"matching server and client config files, in DIR (created 0700).\n"
		"Keys are ECDSA P-256 (mode 0600); the CA is valid 10 years, the\n"
		"others 3 years. Existing files are not replaced without --force.\n"
		"\n"
		"options:\n"
		"  -d, --dir DIR          where the files go (required)\n"
		"  --server-name NAME     DNS name the clients dial (repeatable)\n"
		"  --server-ip IP         IP address the clients dial (repeatable)\n"
		"                         (none of both: localhost and 127.0.0.1)\n"
		"  --client ID            a tunnel client id (repeatable); its\n"
		"                         certificate says CN=ID@DOMAIN\n"
		"  --domain DOMAIN        the server's Domain (default %s)\n"
		"  --admin ID             id of the management certificate and the\n"
		"                         one ManagementClientIds entry (default %s)\n"
		"  --no-admin             no management certificate; the server then\n"
		"                         lets every CA-signed certificate manage\n"
		"  --port PORT            ListenPort and ServerAddr port (default %d)\n"
		"  --days N               validity of the leaves in days (default %u)\n"
		"  --ca-days N            validity of the CA in days (default %u)\n"
		"  --force                replace existing files\n"
		"  -h, --help             this text\n"
		"\n"
		"files (ID@DOMAIN for each client and the admin):\n"
		"  ca.crt ca.key                     the CA (keep ca.key offline)\n"
		"  server.key server+chain.crt       server key, certificate + CA\n"
		"  ID@DOMAIN.key ID@DOMAIN+chain.crt client key, certificate + CA\n"
		"  server-config.json                ListenPort, Domain, UseTls,\n"
		"                                    CaCertificateFilesGlob, key and\n"
		"                                    certificate, ManagementClientIds\n"
		"  client-ID-config.json             ServerAddr, UseTls, CA, key and\n"
		"                                    certificate; add your services to\n"
		"                                    its ServiceToLocalAddrMap\n"
		"\n"
		"example:\n"
		"  threshold certs --dir pki --server-name localhost --server-ip 127.0.0.1 \\\n"
		"      --client TestClient1\n"
		"  threshold server -c pki/server-config.json\n"
		"  threshold client -c pki/client-TestClient1-config.json\n"
		"  curl --cacert pki/ca.crt --cert pki/admin@example.com+chain.crt \\\n"
		"      --key pki/admin@example.com.key https://localhost:9056/clients\n",
		CERTS_DEFAULT_DOMAIN, CERTS_DEFAULT_ADMIN, CERTS_DEFAULT_PORT, CERTS_LEAF_DAYS, CERTS_CA_DAYS);
}

/* "--name VALUE" or "--name=VALUE" (also one dash). 1 on a match with
 * *val set, -1 when the value is missing, 0 otherwise. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
	const char *a = argv[*i];
	if (a[0] != '-')
		return 0;
	a += a[1] == '-' ? 2 : 1;
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static bool opt_flag(const char *a, const char *name)
{
	if (a[0] != '-')
		return false;
	a += a[1] == '-' ? 2 : 1;
	return strcmp(a, name) == 0;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
		return false;
	*out = v;
	return true;
}

static void print_line(void *ud, const char *line)
{
	(void)ud;
	printf("%s\n", line);
}

/* The command line being read: the options and the arrays they point
 * into (argc + 1 entries each, so every argument fits). */
struct args {
	struct certs_opts o;
	const char **names, **ips, **clients;
};

/* --port, --days and --ca-days: 1..max; prints the error and returns -1
 * when v is not one. */
static int opt_number(const char *v, unsigned long max, const char *opt, const char *what,
		      unsigned long *u)
{
	if (parse_uint(v, max, u))
		return 0;
	fprintf(stderr, "threshold certs: --%s %s is not %s\n", opt, v, what);
	return -1;
}

/* One option taking a value at argv[*i] into a. 1 when it was one
 * (taken), 0 when it is not such an option, -1 after printing an error
 * (a bad number or a missing value). */
static int opt_valued(int argc, char **argv, int *i, struct args *a)
{
	const char *v = NULL, *arg = argv[*i];
	unsigned long u;
	int m;
#define VALUE(nm) ((m = opt_value(argc, argv, i, nm, &v)) != 0)
	if (VALUE("d") || VALUE("dir")) {
		if (m > 0)
			a->o.dir = v;
	} else if (VALUE("server-name")) {
		if (m > 0)
			a->names[a->o.n_server_names++] = v;
	} else if (VALUE("server-ip")) {
		if (m > 0)
			a->ips[a->o.n_server_ips++] = v;
	} else if (VALUE("client")) {
		if (m > 0)
			a->clients[a->o.n_clients++] = v;
	} else if (VALUE("domain")) {
		if (m > 0)
			a->o.domain = v;
	} else if (VALUE("admin")) {
		if (m > 0)
			a->o.admin = v;
	} else if (VALUE("port")) {
		if (m > 0 && opt_number(v, 65535, "port", "a port (1-65535)", &u) != 0)
			return -1;
		if (m > 0)
			a->o.port = (uint16_t)u;
	} else if (VALUE("days")) {
		if (m > 0 && opt_number(v, 36500, "days", "a number of days (1-36500)", &u) != 0)
			return -1;
		if (m > 0)
			a->o.leaf_days = (unsigned)u;
	} else if (VALUE("ca-days")) {
		if (m > 0 && opt_number(v, 36500, "ca-days", "a number of days (1-36500)", &u) != 0)
			return -1;
		if (m > 0)
			a->o.ca_days = (unsigned)u;
	} else {
		return 0;
	}
#undef VALUE
	if (m < 0) {
		fprintf(stderr, "threshold certs: %s needs a value\n", arg);
		return -1;
	}
	return 1;
}

/* Reads the command line into a. 0 to go on, 1 when --help was printed,
 * -1 after printing a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	for (int i = 0; i < argc; i++) {
		if (opt_flag(argv[i], "h") || opt_flag(argv[i], "help")) {
			usage(stdout);
			return 1;
		}
		if (opt_flag(argv[i], "force")) {
			a->o.force = true;
			continue;
		}
		if (opt_flag(argv[i], "no-admin")) {
			a->o.admin = NULL;
			continue;
		}
		int r = opt_valued(argc, argv, &i, a);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (argv[i][0] != '-' && a->o.dir == NULL) {
			a->o.dir = argv[i];
			continue;
		}
		fprintf(stderr, "threshold certs: unknown argument '%s' (see threshold certs --help)\n",
			argv[i]);
		return -1;
	}
	if (a->o.dir == NULL) {
		fprintf(stderr, "threshold certs: missing --dir DIR (see threshold certs --help)\n");
		return -1;
	}
	if (a->o.n_server_names + a->o.n_server_ips == 0) {
		a->names[a->o.n_server_names++] = "localhost";
		a->ips[a->o.n_server_ips++] = "127.0.0.1";
	}
	return 0;
}

/* What to run next, with the absolute paths of the files just made. */
static void print_next(const struct args *a)
{
	const struct certs_opts *o = &a->o;
	char abs[PATH_MAX];
	if (realpath(o->dir, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", o->dir);
	const char *domain = o->domain ? o->domain : CERTS_DEFAULT_DOMAIN;
	char host[300];
	sock_join_hostport(o->n_server_names ? a->names[0] : a->ips[0],
			   o->port ? o->port : CERTS_DEFAULT_PORT, host, sizeof(host));
	printf("\nnext:\n  threshold server -c %s/server-config.json\n", abs);
	for (size_t i = 0; i < o->n_clients; i++)
		printf("  threshold client -c %s/client-%s-config.json   (after adding its ServiceToLocalAddrMap)\n",
		       abs, a->clients[i]);
	if (o->admin)
		printf("  curl --cacert %s/ca.crt --cert '%s/%s@%s+chain.crt' --key '%s/%s@%s.key' "
		       "https://%s/clients\n",
		       abs, abs, o->admin, domain, abs, o->admin, domain, host);
}

int certs_main(int argc, char **argv)
{
	struct args a = { .o = { .admin = CERTS_DEFAULT_ADMIN } };
	a.names = calloc((size_t)argc + 1, sizeof(char *));
	a.ips = calloc((size_t)argc + 1, sizeof(char *));
	a.clients = calloc((size_t)argc + 1, sizeof(char *));
	int rc = 2;
	if (a.names == NULL || a.ips == NULL || a.clients == NULL) {
		fprintf(stderr, "threshold certs: out of memory\n");
		rc = 1;
		goto out;
	}
	a.o.server_names = a.names;
	a.o.server_ips = a.ips;
	a.o.clients = a.clients;
	int p = parse_args(argc, argv, &a);
	if (p != 0) {
		rc = p > 0 ? 0 : 2;
		goto out;
	}
	char err[CERTS_ERRLEN];
	if (certs_make(&a.o, print_line, NULL, err) != 0) {
		fprintf(stderr, "threshold certs: %s\n", err);
		rc = 1;
		goto out;
	}
	print_next(&a);
	rc = 0;
out:
	free(a.names);
	free(a.ips);
	free(a.clients);
	return rc;
}
