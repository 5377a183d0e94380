#!/usr/bin/env bash
# The usage example end to end. The gateway (server and client) is being
# built; until it lands this says so instead of pretending.
echo "make demo: the gateway (threshold server/client) is not built yet;" >&2
echo "the demo arrives with it. 'make check' runs what exists today." >&2
exit 1
