/* ws.h - the WebSocket pieces dcvctl needs (RFC 6455): handshake values and frames. Pure. */
#ifndef DCV_WS_H
#define DCV_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum {
	DCV_WS_CONT = 0x0,
	DCV_WS_TEXT = 0x1,
	DCV_WS_BINARY = 0x2,
	DCV_WS_CLOSE = 0x8,
	DCV_WS_PING = 0x9,
	DCV_WS_PONG = 0xA,
};

/* Largest frame payload we accept from a server (DCV's control traffic is small). */
#define DCV_WS_MAX_PAYLOAD (1u << 20)

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)); out needs 29 bytes. */
void dcv_ws_accept(const char *key, char out[29]);
/* A random 16-byte key, base64 (25 bytes with NUL). */
void dcv_ws_new_key(char out[25]);

/* Append one client frame (FIN set, masked with `mask`) to out. */
void dcv_ws_frame(struct dcv_buf *out, int opcode, const void *payload, size_t len,
		  const uint8_t mask[4]);

struct dcv_ws_msg {
	int opcode;
	bool fin;
	bool masked;
	uint8_t *payload; /* points into the input buffer (unmasked in place) */
	size_t len;
};

/* Decode one frame from data[0..len). Returns the bytes used, 0 when more data is needed, or
 * -1 for a protocol error (reserved bits, a fragmented or oversized control frame, a payload
 * over DCV_WS_MAX_PAYLOAD) with a reason in `why`. Unmasks in place. */
long dcv_ws_parse(uint8_t *data, size_t len, struct dcv_ws_msg *msg, const char **why);

#endif
