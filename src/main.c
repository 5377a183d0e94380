/*
 * threshold: command line entry point.
 *
 *   threshold server -c FILE
 *   threshold client -c FILE
 *   threshold certs --dir DIR [--server-name N] [--server-ip IP] [--client ID] ...
 *   threshold version
 *   threshold help | -h | --help
 *   threshold -mode server|client [-configFile FILE]   (legacy, as the Go
 *       original: FILE defaults to config.json; Go flag syntax: one or two
 *       dashes, "-flag value" or "-flag=value")
 *
 * Exit status: 0 success, 2 usage error or mode not built yet.
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "server/server.h"
#include "tunnel/certs.h"

#ifndef THRESHOLD_VERSION
#define THRESHOLD_VERSION "0.0.0"
#endif
#ifndef THRESHOLD_GITREV
#define THRESHOLD_GITREV "unknown"
#endif

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(out,
		"usage: threshold <command> [options]\n"
		"\n"
		"commands:\n"
		"  server -c FILE     run the server with the config FILE\n"
		"  client -c FILE     run the client with the config FILE\n"
		"  certs --dir DIR    make a CA, server and client certificates and\n"
		"                     matching configs (threshold certs --help)\n"
		"  version            print the version and exit\n"
		"  help               print this help and exit\n"
		"\n"
		"legacy form (as the Go original):\n"
		"  threshold -mode server|client -configFile FILE\n"
		"      (FILE defaults to config.json)\n");
}

/*
 * Match a Go-style flag: "-name", "--name", "-name=value", "--name=value".
 * Returns 1 and sets *value (NULL when no "=value" was given) on a match.
 */
static int match_flag(const char *arg, const char *name, const char **value)
{
	if (arg[0] != '-')
		return 0;
	arg++;
	if (arg[0] == '-')
		arg++;
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '\0') {
		*value = NULL;
		return 1;
	}
	if (arg[n] == '=') {
		*value = arg + n + 1;
		return 1;
	}
	return 0;
}

/* Mode entry points; the real ones come with the server and client. */
static int run_mode(const char *mode, const char *config)
{
	if (strcmp(mode, "server") == 0)
		return server_main(config);
	if (strcmp(mode, "client") == 0)
		return client_main(config);
	fprintf(stderr, "threshold: %s mode is not built yet\n", mode);
	return EXIT_USAGE;
}

/* "server -c FILE" / "client -c FILE" (also --config FILE, -c=FILE). */
static int cmd_mode(const char *mode, int argc, char **argv)
{
	const char *config = NULL;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		if (match_flag(argv[i], "c", &v) || match_flag(argv[i], "config", &v) ||
		    match_flag(argv[i], "configFile", &v)) {
			if (v == NULL) {
				if (i + 1 >= argc) {
					fprintf(stderr, "threshold %s: %s needs a file name\n", mode, argv[i]);
					return EXIT_USAGE;
				}
				v = argv[++i];
			}
			config = v;
			continue;
		}
		fprintf(stderr, "threshold %s: unknown argument '%s'\n", mode, argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (config == NULL) {
		fprintf(stderr, "threshold %s: missing -c FILE (the config file)\n", mode);
		usage(stderr);
		return EXIT_USAGE;
	}
	return run_mode(mode, config);
}

/* Legacy flags: -mode server|client -configFile FILE, in any order. */
static int cmd_legacy(int argc, char **argv)
{
	/* Defaults as in the Go original. */
	const char *mode = NULL, *config = "config.json";
	for (int i = 0; i < argc; i++) {
		const char *v;
		const char **dst;
		if (match_flag(argv[i], "mode", &v))
			dst = &mode;
		else if (match_flag(argv[i], "configFile", &v))
			dst = &config;
		else {
			fprintf(stderr, "threshold: unknown argument '%s'\n",
				argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
		if (v == NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "threshold: %s needs a value\n",
					argv[i]);
				usage(stderr);
				return EXIT_USAGE;
			}
			v = argv[++i];
		}
		*dst = v;
	}
	if (mode == NULL || (strcmp(mode, "server") != 0 &&
			     strcmp(mode, "client") != 0)) {
		fprintf(stderr, "threshold: required command line flag '-mode' "
				"was not set to one of the allowed values 'client' or "
				"'server'\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return run_mode(mode, config);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("threshold %s (%s)\n", THRESHOLD_VERSION,
		       THRESHOLD_GITREV);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "--help") == 0 || strcmp(cmd, "-help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "server") == 0 || strcmp(cmd, "client") == 0)
		return cmd_mode(cmd, argc - 2, argv + 2);
	if (strcmp(cmd, "certs") == 0)
		return certs_main(argc - 2, argv + 2);
	const char *v;
	if (match_flag(cmd, "mode", &v) || match_flag(cmd, "configFile", &v))
		return cmd_legacy(argc - 1, argv + 1);
	fprintf(stderr, "threshold: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
