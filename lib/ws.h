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

/* Decode one frame, from either side, from data[0..len). Returns the bytes used, 0 when more
 * data is needed, or -1 for a protocol error (reserved bits or opcodes, a fragmented or
 * oversized control frame, a close body of one byte or with a code no endpoint may send, a
 * payload over DCV_WS_MAX_PAYLOAD) with a static reason in `why`. Unmasks in place. */
long dcv_ws_parse(uint8_t *data, size_t len, struct dcv_ws_msg *msg, const char **why);

/* A client's view of the server's frames across calls: a fragmented message in progress, and
 * for a text message the UTF-8 sequence a fragment may have cut (bytes still due, and the range
 * the next one must fall in). */
struct dcv_ws_reader {
	bool in_message;
	bool in_text;
	uint8_t utf8_need, utf8_lo, utf8_hi;
};

#define DCV_WS_READER_INIT { false, false, 0, 0, 0 }

/* dcv_ws_parse for a frame from the server, also failing (§5.1, §5.4) a masked frame, a
 * continuation with no message begun, and a new data message inside a fragmented one, and
 * (§8.1, §5.5.1) a text message or close reason that is not UTF-8 (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF), judged across fragments. */
long dcv_ws_parse_server(struct dcv_ws_reader *rd, uint8_t *data, size_t len, struct dcv_ws_msg *msg,
			 const char **why);

/* The verdict on a server's answer to our upgrade request. */
struct dcv_ws_answer {
	long status;   /* 0 when the head is not an HTTP response */
	bool accepted; /* a 101 that keeps every rule of RFC 6455 §4.1 */
	char why[200]; /* the first rule a 101 breaks ("" when accepted or not a 101) */
};

/* Judge the response head `head` (status line to the blank line, NUL-terminated) to an upgrade
 * sent with `key` and no Sec-WebSocket-Protocol or -Extensions (RFC 6455 §4.1): Upgrade is
 * websocket, Connection has the token Upgrade, Sec-WebSocket-Accept matches, and no
 * subprotocol or extension is chosen. Field values are compared without optional whitespace. */
void dcv_ws_check_answer(const char *head, const char *key, struct dcv_ws_answer *a);

#endif
