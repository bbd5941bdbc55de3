/* WebSocket pieces (RFC 6455): handshake values, frame encoding and decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/ws.h"

static const uint8_t mask_a[4] = { 0x37, 0xfa, 0x21, 0x3d }; /* RFC 6455 §5.7 */

/* A payload whose bytes differ from their neighbours, so a wrong mask offset shows. */
static uint8_t *pattern(size_t len)
{
	uint8_t *p = xmalloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + i / 251);
	return p;
}

static void frame(struct dcv_buf *out, int opcode, const void *payload, size_t len)
{
	dcv_buf_reset(out);
	dcv_ws_frame(out, opcode, payload, len, mask_a);
}

static long parse(const struct dcv_buf *in, size_t len, struct dcv_ws_msg *msg, const char **why)
{
	*why = NULL;
	return dcv_ws_parse((uint8_t *)in->data, len, msg, why);
}

/* A frame from raw header bytes and an unmasked payload (what a server sends). */
static void raw(struct dcv_buf *out, const uint8_t *hdr, size_t hlen, size_t plen)
{
	dcv_buf_reset(out);
	dcv_buf_add(out, hdr, hlen);
	for (size_t i = 0; i < plen; i++)
		dcv_buf_addc(out, 'x');
}

static void test_ws_accept_rfc6455_example(void **state)
{
	char out[29];

	(void)state;
	memset(out, 'Z', sizeof(out));
	dcv_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_ws_new_key_is_base64_of_16_random_bytes(void **state)
{
	char a[25], b[25];
	unsigned char raw16[32];

	(void)state;
	dcv_ws_new_key(a);
	dcv_ws_new_key(b);
	assert_int_equal(strlen(a), 24);
	assert_int_equal(strlen(b), 24);
	/* 16 bytes are 22 base64 characters and two padding characters */
	assert_int_equal(a[22], '=');
	assert_int_equal(a[23], '=');
	assert_int_not_equal(a[21], '=');
	assert_int_equal(EVP_DecodeBlock(raw16, (const unsigned char *)a, 24), 18); /* 16 + 2 padding */
	for (int i = 0; i < 24; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", a[i]));
	assert_string_not_equal(a, b);
}

static void test_ws_frame_matches_rfc6455_masked_hello(void **state)
{
	struct dcv_buf out = DCV_BUF_INIT;
	const uint8_t want[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };

	(void)state;
	frame(&out, DCV_WS_TEXT, "Hello", 5);
	assert_int_equal(out.len, sizeof(want));
	assert_memory_equal(out.data, want, sizeof(want));
	dcv_buf_release(&out);
}

static void test_ws_parse_rfc6455_unmasked_and_masked_hello(void **state)
{
	uint8_t plain[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct dcv_ws_msg msg;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dcv_ws_parse(plain, sizeof(plain), &msg, &why), sizeof(plain));
	assert_int_equal(msg.opcode, DCV_WS_TEXT);
	assert_true(msg.fin);
	assert_false(msg.masked);
	assert_int_equal(msg.len, 5);
	assert_memory_equal(msg.payload, "Hello", 5);

	assert_int_equal(dcv_ws_parse(masked, sizeof(masked), &msg, &why), sizeof(masked));
	assert_true(msg.masked);
	assert_int_equal(msg.len, 5);
	assert_memory_equal(msg.payload, "Hello", 5);
	assert_ptr_equal(msg.payload, masked + 6);
}

/* Encode, check the header and the masked bytes on the wire, decode, compare. */
static void round_trip(size_t len, size_t want_hdr, uint8_t len7)
{
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_ws_msg msg;
	const char *why;
	uint8_t *p = pattern(len);

	frame(&out, DCV_WS_BINARY, p, len);
	assert_int_equal(out.len, want_hdr + len);
	assert_int_equal((uint8_t)out.data[0], 0x80 | DCV_WS_BINARY);
	assert_int_equal((uint8_t)out.data[1] & 0x80, 0x80); /* client frames are masked */
	assert_int_equal((uint8_t)out.data[1] & 0x7f, len7);
	if (len7 == 126)
		assert_int_equal(((uint8_t)out.data[2] << 8) | (uint8_t)out.data[3], len);
	if (len7 == 127) {
		uint64_t l = 0;
		for (int i = 0; i < 8; i++)
			l = l << 8 | (uint8_t)out.data[2 + i];
		assert_int_equal(l, len);
	}
	assert_memory_equal(out.data + want_hdr - 4, mask_a, 4);
	for (size_t i = 0; i < len; i++)
		assert_int_equal((uint8_t)out.data[want_hdr + i], p[i] ^ mask_a[i % 4]);

	assert_int_equal(parse(&out, out.len, &msg, &why), (long)out.len);
	assert_null(why);
	assert_int_equal(msg.opcode, DCV_WS_BINARY);
	assert_true(msg.fin);
	assert_true(msg.masked);
	assert_int_equal(msg.len, len);
	if (len)
		assert_memory_equal(msg.payload, p, len);
	free(p);
	dcv_buf_release(&out);
}

static void test_ws_frame_round_trip_small(void **state)
{
	(void)state;
	round_trip(0, 6, 0);
	round_trip(1, 6, 1);
	round_trip(5, 6, 5);
	round_trip(125, 6, 125);
}

static void test_ws_frame_round_trip_16bit_length(void **state)
{
	(void)state;
	round_trip(126, 8, 126);
	round_trip(300, 8, 126);
	round_trip(65535, 8, 126);
}

static void test_ws_frame_round_trip_64bit_length(void **state)
{
	(void)state;
	round_trip(65536, 14, 127);
	round_trip(70001, 14, 127);
}

static void test_ws_frame_two_in_one_buffer(void **state)
{
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_ws_msg msg;
	const char *why = NULL;
	long used;

	(void)state;
	dcv_ws_frame(&out, DCV_WS_TEXT, "one", 3, mask_a);
	dcv_ws_frame(&out, DCV_WS_TEXT, "second", 6, mask_a);
	used = dcv_ws_parse((uint8_t *)out.data, out.len, &msg, &why);
	assert_int_equal(used, 6 + 3);
	assert_memory_equal(msg.payload, "one", 3);
	assert_int_equal(dcv_ws_parse((uint8_t *)out.data + used, out.len - (size_t)used, &msg, &why),
			 6 + 6);
	assert_memory_equal(msg.payload, "second", 6);
	dcv_buf_release(&out);
}

static void test_ws_control_frames_ping_pong_close(void **state)
{
	struct dcv_buf out = DCV_BUF_INIT;
	struct dcv_ws_msg msg;
	const char *why;
	const uint8_t close_body[] = { 0x03, 0xe8, 'b', 'y', 'e' }; /* 1000 normal closure */
	uint8_t big[125];

	(void)state;
	frame(&out, DCV_WS_PING, "p1", 2);
	assert_int_equal(parse(&out, out.len, &msg, &why), 6 + 2);
	assert_int_equal(msg.opcode, DCV_WS_PING);
	assert_true(msg.fin);
	assert_memory_equal(msg.payload, "p1", 2);

	frame(&out, DCV_WS_PONG, "p1", 2);
	assert_int_equal(parse(&out, out.len, &msg, &why), 6 + 2);
	assert_int_equal(msg.opcode, DCV_WS_PONG);
	assert_memory_equal(msg.payload, "p1", 2);

	frame(&out, DCV_WS_PING, NULL, 0);
	assert_int_equal(parse(&out, out.len, &msg, &why), 6);
	assert_int_equal(msg.len, 0);

	frame(&out, DCV_WS_CLOSE, close_body, sizeof(close_body));
	assert_int_equal(parse(&out, out.len, &msg, &why), 6 + (long)sizeof(close_body));
	assert_int_equal(msg.opcode, DCV_WS_CLOSE);
	assert_int_equal(msg.len, 5);
	assert_int_equal((msg.payload[0] << 8) | msg.payload[1], 1000);
	assert_memory_equal(msg.payload + 2, "bye", 3);

	/* 125 bytes is the largest control payload, and allowed */
	memset(big, 'c', sizeof(big));
	frame(&out, DCV_WS_PING, big, sizeof(big));
	assert_int_equal(parse(&out, out.len, &msg, &why), 6 + 125);
	assert_null(why);
	dcv_buf_release(&out);
}

static void test_ws_fragmented_data_frames_accepted(void **state)
{
	uint8_t first[] = { 0x01, 0x03, 'H', 'e', 'l' }; /* text, FIN clear */
	uint8_t last[] = { 0x80, 0x02, 'l', 'o' };      /* continuation, FIN set */
	struct dcv_ws_msg msg;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dcv_ws_parse(first, sizeof(first), &msg, &why), sizeof(first));
	assert_false(msg.fin);
	assert_int_equal(msg.opcode, DCV_WS_TEXT);
	assert_int_equal(dcv_ws_parse(last, sizeof(last), &msg, &why), sizeof(last));
	assert_true(msg.fin);
	assert_int_equal(msg.opcode, DCV_WS_CONT);
	assert_memory_equal(msg.payload, "lo", 2);
}

/* Every proper prefix of a complete frame needs more data and changes nothing. */
static void assert_all_prefixes_need_more(const struct dcv_buf *in)
{
	uint8_t *copy = xmalloc(in->len);
	struct dcv_ws_msg msg;

	memcpy(copy, in->data, in->len);
	for (size_t k = 0; k < in->len; k++) {
		const char *why = NULL;
		long r = dcv_ws_parse(copy, k, &msg, &why);
		if (r != 0)
			fail_msg("prefix of %zu of %zu bytes: got %ld (%s)", k, in->len, r, why ? why : "-");
	}
	assert_memory_equal(copy, in->data, in->len);
	free(copy);
}

static void test_ws_partial_input_needs_more_at_every_point(void **state)
{
	struct dcv_buf out = DCV_BUF_INIT;
	const size_t sizes[] = { 0, 5, 125, 126, 1000, 65535, 65536, 70001 };
	const uint8_t unmasked16[] = { 0x82, 0x7e, 0x01, 0x00 };
	const uint8_t unmasked64[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *p = pattern(sizes[i]);
		frame(&out, DCV_WS_BINARY, p, sizes[i]);
		assert_all_prefixes_need_more(&out);
		free(p);
	}
	frame(&out, DCV_WS_CLOSE, "\x03\xe8", 2);
	assert_all_prefixes_need_more(&out);
	/* RFC 6455 §5.7's unmasked 256-byte and 64 KiB binary frames */
	raw(&out, unmasked16, sizeof(unmasked16), 256);
	assert_all_prefixes_need_more(&out);
	raw(&out, unmasked64, sizeof(unmasked64), 65536);
	assert_all_prefixes_need_more(&out);
	dcv_buf_release(&out);
}

static void assert_protocol_error(const uint8_t *hdr, size_t hlen, size_t plen, const char *what)
{
	struct dcv_buf in = DCV_BUF_INIT;
	struct dcv_ws_msg msg;
	const char *why = NULL;
	long r;

	raw(&in, hdr, hlen, plen);
	r = dcv_ws_parse((uint8_t *)in.data, in.len, &msg, &why);
	if (r != -1)
		fail_msg("%s: got %ld, want -1", what, r);
	if (!why || !*why)
		fail_msg("%s: no reason given", what);
	dcv_buf_release(&in);
}

static void test_ws_reserved_bits_rejected(void **state)
{
	(void)state;
	for (uint8_t rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
		const uint8_t hdr[] = { (uint8_t)(0x80 | rsv | DCV_WS_TEXT), 0x02 };
		assert_protocol_error(hdr, sizeof(hdr), 2, "reserved bit");
	}
}

static void test_ws_fragmented_control_frame_rejected(void **state)
{
	const uint8_t ping[] = { DCV_WS_PING, 0x02 }; /* FIN clear */
	const uint8_t pong[] = { DCV_WS_PONG, 0x00 };
	const uint8_t close_frag[] = { DCV_WS_CLOSE, 0x02 };
	struct dcv_ws_msg msg;
	const char *why = NULL;
	uint8_t buf[] = { DCV_WS_PING, 0x02, 'h', 'i' };

	(void)state;
	assert_protocol_error(ping, sizeof(ping), 2, "fragmented ping");
	assert_protocol_error(pong, sizeof(pong), 0, "fragmented pong");
	assert_protocol_error(close_frag, sizeof(close_frag), 2, "fragmented close");
	assert_int_equal(dcv_ws_parse(buf, sizeof(buf), &msg, &why), -1);
	assert_non_null(strstr(why, "fragmented"));
}

static void test_ws_control_payload_over_125_rejected(void **state)
{
	const uint8_t ping126[] = { 0x80 | DCV_WS_PING, 0x7e, 0x00, 0x7e };
	const uint8_t close200[] = { 0x80 | DCV_WS_CLOSE, 0x7e, 0x00, 0xc8 };
	const uint8_t pong64[] = { 0x80 | DCV_WS_PONG, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0x00 };
	struct dcv_buf out = DCV_BUF_INIT;
	uint8_t big[126];

	(void)state;
	assert_protocol_error(ping126, sizeof(ping126), 126, "ping of 126 bytes");
	assert_protocol_error(close200, sizeof(close200), 200, "close of 200 bytes");
	assert_protocol_error(pong64, sizeof(pong64), 256, "pong of 256 bytes");
	/* rejected from the header alone, before the payload arrives */
	assert_protocol_error(ping126, sizeof(ping126), 0, "ping of 126 bytes, header only");
	memset(big, 'x', sizeof(big));
	frame(&out, DCV_WS_PING, big, sizeof(big));
	{
		struct dcv_ws_msg msg;
		const char *why;
		assert_int_equal(parse(&out, out.len, &msg, &why), -1);
		assert_non_null(why);
	}
	dcv_buf_release(&out);
}

static void test_ws_unknown_opcodes_rejected(void **state)
{
	(void)state;
	for (int op = 0x3; op <= 0x7; op++) {
		const uint8_t hdr[] = { (uint8_t)(0x80 | op), 0x01 };
		assert_protocol_error(hdr, sizeof(hdr), 1, "reserved data opcode");
	}
	for (int op = 0xB; op <= 0xF; op++) {
		const uint8_t hdr[] = { (uint8_t)(0x80 | op), 0x01 };
		assert_protocol_error(hdr, sizeof(hdr), 1, "reserved control opcode");
	}
}

static void test_ws_payload_over_max_rejected(void **state)
{
	const size_t max = DCV_WS_MAX_PAYLOAD;
	const uint8_t over[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, (uint8_t)((max + 1) >> 16),
				 (uint8_t)((max + 1) >> 8), (uint8_t)(max + 1) };
	const uint8_t huge[] = { 0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t exact[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, (uint8_t)(max >> 16), (uint8_t)(max >> 8),
				  (uint8_t)max };
	struct dcv_buf in = DCV_BUF_INIT;
	struct dcv_ws_msg msg;
	const char *why = NULL;

	(void)state;
	assert_int_equal(max, 1u << 20);
	/* refused from the header: nobody should buffer a frame we will never accept */
	assert_protocol_error(over, sizeof(over), 0, "1 MiB + 1, header only");
	assert_protocol_error(huge, sizeof(huge), 0, "2^63 - 1 bytes");
	/* exactly 1 MiB is accepted */
	raw(&in, exact, sizeof(exact), 0);
	assert_int_equal(dcv_ws_parse((uint8_t *)in.data, in.len, &msg, &why), 0);
	raw(&in, exact, sizeof(exact), max);
	assert_int_equal(dcv_ws_parse((uint8_t *)in.data, in.len, &msg, &why), (long)(sizeof(exact) + max));
	assert_int_equal(msg.len, max);
	dcv_buf_release(&in);
}

/* ---- the server's frames (§5.1, §5.4, §5.5.1, §5.7, §7.4) ---- */

static long server(struct dcv_ws_reader *rd, uint8_t *data, size_t len, struct dcv_ws_msg *msg, const char **why)
{
	*why = NULL;
	return dcv_ws_parse_server(rd, data, len, msg, why);
}

static void test_ws_server_rfc6455_examples(void **state)
{
	uint8_t hello[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	uint8_t hel[] = { 0x01, 0x03, 0x48, 0x65, 0x6c };
	uint8_t lo[] = { 0x80, 0x02, 0x6c, 0x6f };
	uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	const uint8_t bin256[] = { 0x82, 0x7e, 0x01, 0x00 };
	const uint8_t bin64k[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 };
	struct dcv_ws_reader rd = DCV_WS_READER_INIT;
	struct dcv_buf in = DCV_BUF_INIT;
	struct dcv_ws_msg msg;
	const char *why;

	(void)state;
	assert_int_equal(server(&rd, hello, sizeof(hello), &msg, &why), sizeof(hello));
	assert_memory_equal(msg.payload, "Hello", 5);
	assert_int_equal(server(&rd, hel, sizeof(hel), &msg, &why), sizeof(hel));
	assert_true(rd.in_message);
	/* a control frame may come between the fragments (§5.4) */
	assert_int_equal(server(&rd, ping, sizeof(ping), &msg, &why), sizeof(ping));
	assert_int_equal(msg.opcode, DCV_WS_PING);
	assert_memory_equal(msg.payload, "Hello", 5);
	assert_true(rd.in_message);
	assert_int_equal(server(&rd, lo, sizeof(lo), &msg, &why), sizeof(lo));
	assert_memory_equal(msg.payload, "lo", 2);
	assert_false(rd.in_message);
	raw(&in, bin256, sizeof(bin256), 256);
	assert_int_equal(server(&rd, (uint8_t *)in.data, in.len, &msg, &why), 4 + 256);
	assert_int_equal(msg.len, 256);
	raw(&in, bin64k, sizeof(bin64k), 65536);
	assert_int_equal(server(&rd, (uint8_t *)in.data, in.len, &msg, &why), 10 + 65536);
	assert_int_equal(msg.len, 65536);
	assert_null(why);
	dcv_buf_release(&in);
}

static void test_ws_server_masked_frame_rejected(void **state)
{
	/* RFC 6455 §5.7's masked "Hello" and masked pong: fine from a client, not from a server */
	uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct dcv_ws_reader rd = DCV_WS_READER_INIT;
	struct dcv_ws_msg msg;
	const char *why;

	(void)state;
	assert_int_equal(server(&rd, hello, sizeof(hello), &msg, &why), -1);
	assert_string_equal(why, "masked frame from the server");
	assert_int_equal(server(&rd, pong, sizeof(pong), &msg, &why), -1);
	assert_string_equal(why, "masked frame from the server");
	/* from the first two bytes, before mask and payload arrive */
	assert_int_equal(server(&rd, hello, 2, &msg, &why), -1);
	assert_int_equal(server(&rd, hello, 1, &msg, &why), 0);
	/* the frame was not unmasked in place */
	assert_int_equal(hello[6], 0x7f);
}

static void test_ws_server_fragment_sequence_enforced(void **state)
{
	uint8_t cont[] = { 0x80, 0x02, 'l', 'o' };
	uint8_t first[] = { 0x01, 0x03, 'H', 'e', 'l' };
	uint8_t text[] = { 0x81, 0x01, 'x' };
	uint8_t bin_first[] = { 0x02, 0x01, 'x' };
	struct dcv_ws_reader rd = DCV_WS_READER_INIT;
	struct dcv_ws_msg msg;
	const char *why;

	(void)state;
	assert_int_equal(server(&rd, cont, sizeof(cont), &msg, &why), -1);
	assert_string_equal(why, "continuation frame with no message begun");
	assert_int_equal(server(&rd, first, sizeof(first), &msg, &why), sizeof(first));
	assert_int_equal(server(&rd, text, sizeof(text), &msg, &why), -1);
	assert_string_equal(why, "new data message inside a fragmented one");
	assert_int_equal(server(&rd, bin_first, sizeof(bin_first), &msg, &why), -1);
	assert_string_equal(why, "new data message inside a fragmented one");
}

static void test_ws_server_frame_rules_of_any_frame_apply(void **state)
{
	uint8_t rsv1[] = { 0xc1, 0x01, 'x' };
	uint8_t op3[] = { 0x83, 0x01, 'x' };
	uint8_t ping_frag[] = { 0x09, 0x00 };
	uint8_t ping126[] = { 0x89, 0x7e, 0x00, 0x7e };
	struct dcv_ws_reader rd = DCV_WS_READER_INIT;
	struct dcv_ws_msg msg;
	const char *why;

	(void)state;
	assert_int_equal(server(&rd, rsv1, sizeof(rsv1), &msg, &why), -1);
	assert_non_null(strstr(why, "reserved bits"));
	assert_int_equal(server(&rd, op3, sizeof(op3), &msg, &why), -1);
	assert_string_equal(why, "unknown data opcode");
	assert_int_equal(server(&rd, ping_frag, sizeof(ping_frag), &msg, &why), -1);
	assert_string_equal(why, "fragmented control frame");
	assert_int_equal(server(&rd, ping126, sizeof(ping126), &msg, &why), -1);
	assert_string_equal(why, "control frame longer than 125 bytes");
}

/* One server text message `p` sent as fragments of `step` bytes; the reader's verdict. */
static long text_in_fragments(const uint8_t *p, size_t n, size_t step, const char **why)
{
	struct dcv_ws_reader rd = DCV_WS_READER_INIT;
	struct dcv_ws_msg msg;
	uint8_t f[2 + 125];
	long r = 0;

	for (size_t off = 0; off < n || off == 0; off += step) {
		size_t len = n - off < step ? n - off : step;
		f[0] = (uint8_t)((off + len >= n ? 0x80 : 0) | (off ? DCV_WS_CONT : DCV_WS_TEXT));
		f[1] = (uint8_t)len;
		memcpy(f + 2, p + off, len);
		if ((r = server(&rd, f, 2 + len, &msg, why)) < 0 || off + len >= n)
			break;
	}
	return r;
}

/* Autobahn testsuite case 6 (UTF-8 handling) vectors, whole and cut at every byte (§8.1). */
static void test_ws_server_text_must_be_utf8(void **state)
{
	static const struct { const char *name; const char *bytes; bool ok; } v[] = {
		{ "6.2 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true },
		{ "6.5 U+0000..U+007F", "\x01 ~\x7f", true },
		{ "6.6 U+D7FF", "\xed\x9f\xbf", true },
		{ "6.6 U+E000 U+FFFD U+FFFF", "\xee\x80\x80\xef\xbf\xbd\xef\xbf\xbf", true },
		{ "6.7 U+10FFFF", "\xf4\x8f\xbf\xbf", true },
		{ "6.3 surrogate in kosme-edited", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited", false },
		{ "6.8 U+110000", "\xf4\x90\x80\x80", false },
		{ "6.11 overlong /", "\xc0\xaf", false },
		{ "6.11 overlong 3-byte", "\xe0\x80\xaf", false },
		{ "6.11 overlong 4-byte", "\xf0\x80\x80\xaf", false },
		{ "6.12 lone continuation", "\x80", false },
		{ "6.13 lone start", "\xc0 ", false },
		{ "6.14 truncated at the end", "\xe2\x82", false },
		{ "6.17 fe", "\xfe", false },
		{ "6.20 lone surrogate", "\xed\xbf\xbf", false },
	};
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].bytes);
		for (size_t step = 1; step <= n; step++) {
			long r = text_in_fragments((const uint8_t *)v[i].bytes, n, step, &why);
			if ((r > 0) != v[i].ok)
				fail_msg("%s, fragments of %zu: got %ld (%s)", v[i].name, step, r, why ? why : "");
			if (!v[i].ok)
				assert_string_equal(why, "text message that is not UTF-8");
		}
	}
}

static void test_ws_server_binary_and_close_reason(void **state)
{
	uint8_t bin[] = { 0x82, 0x02, 0xc0, 0xaf };
	uint8_t close_bad[] = { 0x88, 0x04, 0x03, 0xe8, 0xc0, 0xaf };
	uint8_t close_ok[] = { 0x88, 0x04, 0x03, 0xe8, 0xc3, 0xa9 };
	struct dcv_ws_reader rd = DCV_WS_READER_INIT;
	struct dcv_ws_msg msg;
	const char *why;

	(void)state;
	/* binary payloads are not text: any bytes */
	assert_int_equal(server(&rd, bin, sizeof(bin), &msg, &why), sizeof(bin));
	assert_int_equal(server(&rd, close_bad, sizeof(close_bad), &msg, &why), -1);
	assert_string_equal(why, "close reason that is not UTF-8");
	assert_int_equal(server(&rd, close_ok, sizeof(close_ok), &msg, &why), sizeof(close_ok));
}

static long close_with(int code, size_t body_len, const char **why)
{
	uint8_t f[8] = { 0x88, (uint8_t)body_len, (uint8_t)(code >> 8), (uint8_t)code, 'b', 'y', 'e', 0 };
	struct dcv_ws_msg msg;

	*why = NULL;
	return dcv_ws_parse(f, 2 + body_len, &msg, why);
}

static void test_ws_close_body_and_codes(void **state)
{
	const int good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999 };
	const int bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 };
	const char *why;

	(void)state;
	assert_int_equal(close_with(0, 0, &why), 2);
	assert_int_equal(close_with(1000, 1, &why), -1);
	assert_string_equal(why, "close frame with a one-byte body");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (close_with(good[i], 2, &why) != 4)
			fail_msg("close code %d refused: %s", good[i], why ? why : "-");
		assert_int_equal(close_with(good[i], 5, &why), 7);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (close_with(bad[i], 2, &why) != -1)
			fail_msg("close code %d accepted", bad[i]);
		assert_string_equal(why, "close frame with a code no endpoint may send");
	}
}

/* ---- the answer to the upgrade (§4.1) ---- */

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define STATUS101 "HTTP/1.1 101 Switching Protocols\r\n"
#define GOOD_FIELDS "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"

static void assert_accepted(const char *head)
{
	struct dcv_ws_answer a;

	dcv_ws_check_answer(head, KEY, &a);
	if (!a.accepted)
		fail_msg("refused (%s):\n%s", a.why, head);
	assert_int_equal(a.status, 101);
	assert_string_equal(a.why, "");
}

static void assert_refused(const char *head, const char *want_why)
{
	struct dcv_ws_answer a;

	dcv_ws_check_answer(head, KEY, &a);
	if (a.accepted)
		fail_msg("accepted:\n%s", head);
	assert_int_equal(a.status, 101);
	assert_string_equal(a.why, want_why);
}

static void test_ws_answer_rfc6455_example_accepted(void **state)
{
	(void)state;
	/* RFC 6455 §1.3, with the subprotocol it chose left out: we ask for none */
	assert_accepted(STATUS101 GOOD_FIELDS "\r\n");
	assert_accepted("HTTP/1.1 101 Switching Protocols\r\nServer: x\r\n" GOOD_FIELDS "Date: y\r\n\r\n");
}

static void test_ws_answer_values_trimmed_and_case_insensitive(void **state)
{
	(void)state;
	assert_accepted(STATUS101 "upgrade:WebSocket\r\nCONNECTION:upgrade\r\nsec-websocket-accept:" ACCEPT "\r\n\r\n");
	assert_accepted(STATUS101 "Upgrade: \t websocket \t\r\nConnection:  Upgrade  \r\n"
				  "Sec-WebSocket-Accept: \t" ACCEPT " \t\r\n\r\n");
	/* Connection is a token list, and may come as several fields */
	assert_accepted(STATUS101 "Upgrade: websocket\r\nConnection: keep-alive ,  Upgrade\r\n"
				  "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n");
	assert_accepted(STATUS101 "Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n"
				  "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n");
	/* an empty subprotocol or extension field chooses nothing */
	assert_accepted(STATUS101 GOOD_FIELDS "Sec-WebSocket-Protocol: \r\nSec-WebSocket-Extensions:\r\n\r\n");
}

static void test_ws_answer_upgrade_must_be_websocket(void **state)
{
	(void)state;
	assert_refused(STATUS101 "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
		       "no 'Upgrade' header");
	assert_refused(STATUS101 "Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
		       "'Upgrade: h2c' instead of websocket");
	assert_refused(STATUS101 "Upgrade: websockets\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT
				 "\r\n\r\n",
		       "'Upgrade: websockets' instead of websocket");
	/* a field whose name only begins with Upgrade, or a space before the colon, is not it */
	assert_refused(STATUS101 "Upgrade-Insecure-Requests: websocket\r\nConnection: Upgrade\r\n"
				 "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
		       "no 'Upgrade' header");
	assert_refused(STATUS101 "Upgrade : websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT
				 "\r\n\r\n",
		       "no 'Upgrade' header");
}

static void test_ws_answer_connection_needs_the_upgrade_token(void **state)
{
	(void)state;
	assert_refused(STATUS101 "Upgrade: websocket\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
		       "no 'Connection' header");
	assert_refused(STATUS101 "Upgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: " ACCEPT
				 "\r\n\r\n",
		       "'Connection: keep-alive' without the token Upgrade");
	assert_refused(STATUS101 "Upgrade: websocket\r\nConnection: Upgraded, close\r\nSec-WebSocket-Accept: " ACCEPT
				 "\r\n\r\n",
		       "'Connection: Upgraded, close' without the token Upgrade");
}

static void test_ws_answer_accept_must_match(void **state)
{
	(void)state;
	assert_refused(STATUS101 "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		       "no 'Sec-WebSocket-Accept' header");
	assert_refused(STATUS101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				 "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		       "a wrong 'Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ=='");
	/* two accept fields combine into a value that matches nothing */
	assert_refused(STATUS101 GOOD_FIELDS "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
		       "a wrong 'Sec-WebSocket-Accept: " ACCEPT ", " ACCEPT "'");
}

static void test_ws_answer_unrequested_protocol_or_extension_fails(void **state)
{
	(void)state;
	assert_refused(STATUS101 GOOD_FIELDS "Sec-WebSocket-Protocol: chat\r\n\r\n",
		       "an unrequested subprotocol 'Sec-WebSocket-Protocol: chat'");
	assert_refused(STATUS101 GOOD_FIELDS "sec-websocket-extensions:  permessage-deflate; client_max_window_bits \r\n\r\n",
		       "an unrequested extension 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'");
}

static void test_ws_answer_remote_text_is_made_printable(void **state)
{
	struct dcv_ws_answer a;

	(void)state;
	dcv_ws_check_answer(STATUS101 "Upgrade: \x1b]0;pwned\x07h2c\r\nConnection: Upgrade\r\n\r\n", KEY, &a);
	assert_false(a.accepted);
	assert_string_equal(a.why, "'Upgrade: ?]0;pwned?h2c' instead of websocket");
}

static void test_ws_answer_other_status_or_not_http(void **state)
{
	struct dcv_ws_answer a;

	(void)state;
	dcv_ws_check_answer("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", KEY, &a);
	assert_int_equal(a.status, 403);
	assert_false(a.accepted);
	assert_string_equal(a.why, "");
	dcv_ws_check_answer("HTTP/1.0 200 OK\r\n" GOOD_FIELDS "\r\n", KEY, &a);
	assert_int_equal(a.status, 200);
	assert_false(a.accepted);
	dcv_ws_check_answer("SSH-2.0-OpenSSH_9.2\r\n\r\n", KEY, &a);
	assert_int_equal(a.status, 0);
	assert_false(a.accepted);
	dcv_ws_check_answer("HTTP/2 101\r\n" GOOD_FIELDS "\r\n", KEY, &a);
	assert_int_equal(a.status, 0);
	dcv_ws_check_answer("HTTP/1.1 42 Odd\r\n\r\n", KEY, &a);
	assert_int_equal(a.status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ws_accept_rfc6455_example),
		cmocka_unit_test(test_ws_new_key_is_base64_of_16_random_bytes),
		cmocka_unit_test(test_ws_frame_matches_rfc6455_masked_hello),
		cmocka_unit_test(test_ws_parse_rfc6455_unmasked_and_masked_hello),
		cmocka_unit_test(test_ws_frame_round_trip_small),
		cmocka_unit_test(test_ws_frame_round_trip_16bit_length),
		cmocka_unit_test(test_ws_frame_round_trip_64bit_length),
		cmocka_unit_test(test_ws_frame_two_in_one_buffer),
		cmocka_unit_test(test_ws_control_frames_ping_pong_close),
		cmocka_unit_test(test_ws_fragmented_data_frames_accepted),
		cmocka_unit_test(test_ws_partial_input_needs_more_at_every_point),
		cmocka_unit_test(test_ws_reserved_bits_rejected),
		cmocka_unit_test(test_ws_fragmented_control_frame_rejected),
		cmocka_unit_test(test_ws_control_payload_over_125_rejected),
		cmocka_unit_test(test_ws_unknown_opcodes_rejected),
		cmocka_unit_test(test_ws_payload_over_max_rejected),
		cmocka_unit_test(test_ws_server_rfc6455_examples),
		cmocka_unit_test(test_ws_server_masked_frame_rejected),
		cmocka_unit_test(test_ws_server_fragment_sequence_enforced),
		cmocka_unit_test(test_ws_server_text_must_be_utf8),
		cmocka_unit_test(test_ws_server_binary_and_close_reason),
		cmocka_unit_test(test_ws_server_frame_rules_of_any_frame_apply),
		cmocka_unit_test(test_ws_close_body_and_codes),
		cmocka_unit_test(test_ws_answer_rfc6455_example_accepted),
		cmocka_unit_test(test_ws_answer_values_trimmed_and_case_insensitive),
		cmocka_unit_test(test_ws_answer_upgrade_must_be_websocket),
		cmocka_unit_test(test_ws_answer_connection_needs_the_upgrade_token),
		cmocka_unit_test(test_ws_answer_accept_must_match),
		cmocka_unit_test(test_ws_answer_unrequested_protocol_or_extension_fails),
		cmocka_unit_test(test_ws_answer_remote_text_is_made_printable),
		cmocka_unit_test(test_ws_answer_other_status_or_not_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
