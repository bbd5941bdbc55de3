#include "ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void dcv_ws_accept(const char *key, char out[29])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s%s", key, guid);

	EVP_Digest(buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1), md, &mdlen,
		   EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

void dcv_ws_new_key(char out[25])
{
	unsigned char raw[16];

	RAND_bytes(raw, sizeof(raw));
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
}

void dcv_ws_frame(struct dcv_buf *out, int opcode, const void *payload, size_t len,
		  const uint8_t mask[4])
{
	uint8_t hdr[14];
	size_t h = 0;
	const uint8_t *p = payload;

	hdr[h++] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		hdr[h++] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(hdr + h, mask, 4);
	h += 4;
	dcv_buf_add(out, hdr, h);
	for (size_t i = 0; i < len; i++)
		dcv_buf_addc(out, (char)(p[i] ^ mask[i % 4]));
}

long dcv_ws_parse(uint8_t *data, size_t len, struct dcv_ws_msg *msg, const char **why)
{
	size_t h = 2;
	uint64_t plen;

	if (len < 2)
		return 0;
	if (data[0] & 0x70) {
		*why = "reserved bits set without a negotiated extension";
		return -1;
	}
	msg->fin = data[0] & 0x80;
	msg->opcode = data[0] & 0x0f;
	msg->masked = data[1] & 0x80;
	plen = data[1] & 0x7f;
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (uint64_t)data[2] << 8 | data[3];
		h = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | data[2 + i];
		h = 10;
	}
	if (msg->opcode >= 0x8) {
		if (!msg->fin) {
			*why = "fragmented control frame";
			return -1;
		}
		if (plen > 125) {
			*why = "control frame longer than 125 bytes";
			return -1;
		}
		if (msg->opcode > DCV_WS_PONG) {
			*why = "unknown control opcode";
			return -1;
		}
	} else if (msg->opcode > DCV_WS_BINARY) {
		*why = "unknown data opcode";
		return -1;
	}
	if (plen > DCV_WS_MAX_PAYLOAD) {
		*why = "frame larger than the 1 MiB dcvctl accepts";
		return -1;
	}
	if (msg->masked)
		h += 4;
	if (len < h + plen)
		return 0;
	msg->payload = data + h;
	msg->len = (size_t)plen;
	if (msg->masked) {
		const uint8_t *mask = data + h - 4;
		for (size_t i = 0; i < msg->len; i++)
			msg->payload[i] ^= mask[i % 4];
	}
	return (long)(h + plen);
}
