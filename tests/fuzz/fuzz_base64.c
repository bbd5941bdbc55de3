/* fuzz_base64 - dcv_base64_decode on what a remote `base64` printed (dcv_remote_read), and
 * the round trip of the bytes through OpenSSL's encoder and back. */
#include "fuzz.h"

#include "../../lib/remote.h"

#include <openssl/evp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_buf out = DCV_BUF_INIT;
	size_t cap = (size + 2) / 3 * 4 + 2;
	char *enc = xmalloc(cap);
	int n;

	if (dcv_base64_decode((const char *)data, size, &out))
		FUZZ_ASSERT(out.len <= size / 4 * 3);
	dcv_buf_reset(&out);

	n = EVP_EncodeBlock((unsigned char *)enc, data, (int)size);
	enc[n++] = '\n'; /* as base64(1) ends its output */
	FUZZ_ASSERT(dcv_base64_decode(enc, (size_t)n, &out));
	FUZZ_ASSERT(out.len == size && (size == 0 || memcmp(out.data, data, size) == 0));
	dcv_buf_release(&out);
	free(enc);
	return 0;
}
