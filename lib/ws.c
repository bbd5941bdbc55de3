#include "ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* Codes an endpoint may send (RFC 6455 §7.4, the IANA registry's 1012-1014, 3000-4999 for
 * libraries and applications); 1005, 1006 and 1015 only ever describe a close locally. */
static bool close_code_ok(int code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
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
	if (msg->opcode == DCV_WS_CLOSE && plen == 1) {
		*why = "close frame with a one-byte body";
		return -1;
	}
	msg->payload = data + h;
	msg->len = (size_t)plen;
	if (msg->masked) {
		const uint8_t *mask = data + h - 4;
		for (size_t i = 0; i < msg->len; i++)
			msg->payload[i] ^= mask[i % 4];
	}
	if (msg->opcode == DCV_WS_CLOSE && plen >= 2 && !close_code_ok(msg->payload[0] << 8 | msg->payload[1])) {
		*why = "close frame with a code no endpoint may send";
		return -1;
	}
	return (long)(h + plen);
}

/* Feed bytes of a UTF-8 text to the reader's state (RFC 3629 §4, the table of well-formed
 * sequences); false at the first byte that cannot belong to one. */
static bool utf8_feed(struct dcv_ws_reader *rd, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (rd->utf8_need) {
			if (b < rd->utf8_lo || b > rd->utf8_hi)
				return false;
			rd->utf8_need--;
			rd->utf8_lo = 0x80;
			rd->utf8_hi = 0xBF;
			continue;
		}
		if (b < 0x80)
			continue;
		rd->utf8_lo = 0x80;
		rd->utf8_hi = 0xBF;
		if (b >= 0xC2 && b <= 0xDF) {
			rd->utf8_need = 1;
		} else if (b >= 0xE0 && b <= 0xEF) {
			rd->utf8_need = 2;
			if (b == 0xE0)
				rd->utf8_lo = 0xA0; /* overlong */
			else if (b == 0xED)
				rd->utf8_hi = 0x9F; /* UTF-16 surrogates */
		} else if (b >= 0xF0 && b <= 0xF4) {
			rd->utf8_need = 3;
			if (b == 0xF0)
				rd->utf8_lo = 0x90; /* overlong */
			else if (b == 0xF4)
				rd->utf8_hi = 0x8F; /* past U+10FFFF */
		} else {
			return false; /* a continuation byte first, C0, C1 or F5..FF */
		}
	}
	return true;
}

long dcv_ws_parse_server(struct dcv_ws_reader *rd, uint8_t *data, size_t len, struct dcv_ws_msg *msg,
			 const char **why)
{
	long used;

	/* judged from the header: a masked frame is refused before its payload arrives */
	if (len >= 2 && (data[1] & 0x80)) {
		*why = "masked frame from the server";
		return -1;
	}
	used = dcv_ws_parse(data, len, msg, why);
	if (used <= 0)
		return used;
	if (msg->opcode == DCV_WS_CLOSE && msg->len > 2) {
		struct dcv_ws_reader reason = DCV_WS_READER_INIT;
		if (!utf8_feed(&reason, msg->payload + 2, msg->len - 2) || reason.utf8_need) {
			*why = "close reason that is not UTF-8";
			return -1;
		}
	}
	if (msg->opcode >= 0x8)
		return used;
	if (msg->opcode == DCV_WS_CONT && !rd->in_message) {
		*why = "continuation frame with no message begun";
		return -1;
	}
	if (msg->opcode != DCV_WS_CONT && rd->in_message) {
		*why = "new data message inside a fragmented one";
		return -1;
	}
	if (msg->opcode == DCV_WS_TEXT)
		rd->in_text = true;
	if (rd->in_text && (!utf8_feed(rd, msg->payload, msg->len) || (msg->fin && rd->utf8_need))) {
		*why = "text message that is not UTF-8";
		return -1;
	}
	rd->in_message = !msg->fin;
	if (msg->fin)
		rd->in_text = false;
	return used;
}

/* ---- the server's answer to the upgrade ---- */

/* Remote text for a message: printable ASCII only, cut short. */
static void quote_value(char *out, size_t n, const char *v)
{
	size_t i = 0;

	for (; *v && i + 1 < n && i < 80; v++)
		out[i++] = (*v >= 0x20 && *v < 0x7f) ? *v : '?';
	out[i] = '\0';
}

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Every value of field `name` in the head, trimmed of optional whitespace and joined with ", "
 * as HTTP combines repeated fields. False when the field is absent. */
static bool field(const char *head, const char *name, struct dcv_buf *out)
{
	size_t nl = strlen(name);
	bool found = false;
	const char *line = strchr(head, '\n');

	dcv_buf_reset(out);
	while (line && line[1] && line[1] != '\r' && line[1] != '\n') {
		const char *h = line + 1, *eol = strchr(h, '\n');
		const char *end = eol ? eol : h + strlen(h);
		line = eol;
		if (strncasecmp(h, name, nl) != 0 || h[nl] != ':')
			continue;
		const char *v = h + nl + 1;
		while (v < end && ows(*v))
			v++;
		while (end > v && (ows(end[-1]) || end[-1] == '\r'))
			end--;
		if (found)
			dcv_buf_adds(out, ", ");
		dcv_buf_add(out, v, (size_t)(end - v));
		found = true;
	}
	return found;
}

/* Whether a comma-separated list holds `token` (case-insensitive), elements trimmed. */
static bool has_token(const char *list, const char *token)
{
	size_t tl = strlen(token);

	for (const char *p = list; *p;) {
		while (ows(*p) || *p == ',')
			p++;
		const char *e = p + strcspn(p, ",");
		const char *t = e;
		while (t > p && ows(t[-1]))
			t--;
		if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p = e;
	}
	return false;
}

static bool broken(struct dcv_ws_answer *a, const char *fmt, const char *name, const struct dcv_buf *v)
{
	char q[96];

	quote_value(q, sizeof(q), dcv_buf_str(v));
	snprintf(a->why, sizeof(a->why), fmt, name, q);
	return true;
}

void dcv_ws_check_answer(const char *head, const char *key, struct dcv_ws_answer *a)
{
	struct dcv_buf v = DCV_BUF_INIT;
	char want[29];

	memset(a, 0, sizeof(*a));
	if (sscanf(head, "HTTP/1.%*1[01] %3ld", &a->status) != 1 || a->status < 100) {
		a->status = 0;
		return;
	}
	if (a->status != 101)
		return;
	dcv_ws_accept(key, want);
	if (!field(head, "Upgrade", &v))
		broken(a, "no '%s' header%.0s", "Upgrade", &v);
	else if (strcasecmp(dcv_buf_str(&v), "websocket") != 0)
		broken(a, "'%s: %s' instead of websocket", "Upgrade", &v);
	else if (!field(head, "Connection", &v))
		broken(a, "no '%s' header%.0s", "Connection", &v);
	else if (!has_token(dcv_buf_str(&v), "Upgrade"))
		broken(a, "'%s: %s' without the token Upgrade", "Connection", &v);
	else if (!field(head, "Sec-WebSocket-Accept", &v))
		broken(a, "no '%s' header%.0s", "Sec-WebSocket-Accept", &v);
	else if (strcmp(dcv_buf_str(&v), want) != 0)
		broken(a, "a wrong '%s: %s'", "Sec-WebSocket-Accept", &v);
	else if (field(head, "Sec-WebSocket-Extensions", &v) && v.len)
		broken(a, "an unrequested extension '%s: %s'", "Sec-WebSocket-Extensions", &v);
	else if (field(head, "Sec-WebSocket-Protocol", &v) && v.len)
		broken(a, "an unrequested subprotocol '%s: %s'", "Sec-WebSocket-Protocol", &v);
	else
		a->accepted = true;
	dcv_buf_release(&v);
}
