/* fuzz_aws - what the aws CLI answers, judged: describe-vpc-endpoints, describe-target-health
 * (with or without describe-target-groups) and describe-security-groups. The first byte picks
 * which; every verdict must have a message on one line without control characters. */
#include "fuzz.h"

#include "../../lib/aws.h"

static void verdict_ok(struct dcv_aws_verdict *v)
{
	FUZZ_ASSERT(v->message != NULL);
	for (const char *p = v->message; *p; p++)
		FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	FUZZ_ASSERT(v->status >= DCV_CHECK_PASS && v->status <= DCV_CHECK_ERROR);
	dcv_aws_verdict_release(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcv_aws_verdict v = { 0 };
	char id[32], *text;

	if (size < 1)
		return 0;
	text = fuzz_str(data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		dcv_aws_judge_vpce(text, "vpce-0123456789abcdef0", "portal.example.com", &v);
		verdict_ok(&v);
		break;
	case 1:
		dcv_aws_judge_vpce(text, NULL, NULL, &v);
		verdict_ok(&v);
		break;
	case 2:
		dcv_aws_judge_targets(text, text, "198.18.0.11", 8443, "arn", &v);
		verdict_ok(&v);
		break;
	case 3:
		dcv_aws_judge_sg(text, 8443, &v);
		verdict_ok(&v);
		break;
	default:
		if (dcv_aws_vpce_id_from_name(text, id, sizeof(id)))
			FUZZ_ASSERT(strncmp(id, "vpce-", 5) == 0 && strlen(id) < sizeof(id));
		break;
	}
	free(text);
	return 0;
}
