/* fuzz_ws - WebSocket frames from a server, decoded one after another the way the ws probe
 * consumes its receive buffer (dcv_ws_parse_server, which keeps the fragmentation state across
 * frames), the same bytes through dcv_ws_parse; and the client's own frames decoded back. */
#include "fuzz.h"

#include "../../lib/ws.h"

static void frames(const uint8_t *data, size_t size, bool server)
{
	struct dcv_ws_reader rd = DCV_WS_READER_INIT;
	uint8_t *buf = xmalloc(size ? size : 1);
	size_t off = 0;

	memcpy(buf, data, size);
	while (off < size) {
		struct dcv_ws_msg m;
		const char *why = NULL;
		long used = server ? dcv_ws_parse_server(&rd, buf + off, size - off, &m, &why)
				   : dcv_ws_parse(buf + off, size - off, &m, &why);
		if (used <= 0) {
			FUZZ_ASSERT(used == 0 || (used == -1 && why));
			break;
		}
		FUZZ_ASSERT((size_t)used <= size - off);
		FUZZ_ASSERT(m.payload >= buf + off && m.payload + m.len == buf + off + used);
		FUZZ_ASSERT(m.len <= DCV_WS_MAX_PAYLOAD);
		FUZZ_ASSERT(m.opcode < 0x8 || (m.len <= 125 && m.fin));
		FUZZ_ASSERT(m.opcode != DCV_WS_CLOSE || m.len != 1);
		FUZZ_ASSERT(!server || !m.masked);
		off += (size_t)used;
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	frames(data, size, true);
	frames(data, size, false);

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
	return 0;
}
