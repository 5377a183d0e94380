/*
 * proto: the client's side of the control-path handshake, as bytes
 * (docs/protocol.md §1-§4). The pure helpers themselves are declared in
 * client.h (public for the unit tests): client_conn_state_name,
 * client_features_parse, client_connect_request, client_preamble_parse.
 * This header adds the two fixed strings of the control stream.
 *
 * Internal to src/client/. src/wire/handshake (one codec for both ends)
 * is to replace proto.{c,h}.
 */
#ifndef THRESHOLD_CLIENT_PROTO_H
#define THRESHOLD_CLIENT_PROTO_H

/* Written by the client on stream 1 right after the session starts. */
#define HANDSHAKE "controlHandshake"
#define HANDSHAKE_LEN (sizeof(HANDSHAKE) - 1)
/* The server's answer on stream 1 (no terminator). */
#define HANDSHAKE_OK "controlOk"
#define HANDSHAKE_OK_LEN (sizeof(HANDSHAKE_OK) - 1)

#endif
