/* fuzz_ws - WebSocket frames from a server, decoded one after another the way the ws probe's
 * hold loop consumes its receive buffer; and the client's own frames decoded back. */
#include "fuzz.h"

#include "../../lib/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = xmalloc(size ? size : 1);
	size_t off = 0;

	memcpy(buf, data, size);
	while (off < size) {
		struct dcv_ws_msg m;
		const char *why = NULL;
		long used = dcv_ws_parse(buf + off, size - off, &m, &why);
		if (used <= 0) {
			FUZZ_ASSERT(used == 0 || (used == -1 && why));
			break;
		}
		FUZZ_ASSERT((size_t)used <= size - off);
		FUZZ_ASSERT(m.payload >= buf + off && m.payload + m.len == buf + off + used);
		FUZZ_ASSERT(m.len <= DCV_WS_MAX_PAYLOAD);
		FUZZ_ASSERT(m.opcode < 0x8 || (m.len <= 125 && m.fin));
		/* what ws_hold reads from a close frame */
		if (m.opcode == DCV_WS_CLOSE && m.len >= 2)
			(void)(m.payload[0] << 8 | m.payload[1]);
		off += (size_t)used;
	}

	/* a client frame of this payload parses back to it */
	{
		static const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
		size_t len = size > DCV_WS_MAX_PAYLOAD ? DCV_WS_MAX_PAYLOAD : size;
		struct dcv_buf f = DCV_BUF_INIT;
		struct dcv_ws_msg m;
		const char *why = NULL;

		dcv_ws_frame(&f, DCV_WS_BINARY, data, len, mask);
		long used = dcv_ws_parse((uint8_t *)f.data, f.len, &m, &why);
		FUZZ_ASSERT(used > 0 && (size_t)used == f.len);
		FUZZ_ASSERT(m.opcode == DCV_WS_BINARY && m.fin && m.masked && m.len == len);
		FUZZ_ASSERT(len == 0 || memcmp(m.payload, data, len) == 0);
		dcv_buf_release(&f);
	}
	free(buf);
	return 0;
}
