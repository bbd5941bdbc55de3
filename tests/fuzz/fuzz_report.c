/* fuzz_report - check results carrying remote text (messages, evidence) through every report
 * format. There is no report reader in lib/, so the round trip is the JSON report read back
 * with json-c: it must parse, hold every check, and keep printable ASCII values as they were.
 * No format may let a terminal escape through. The input is checks separated by 0x1e, each
 * "id 0x1f host 0x1f message 0x1f evidence"; the id's length picks the status. */
#include "fuzz.h"

#include "../../lib/report.h"

#include <json-c/json.h>

#define MAX_CHECKS 64

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

static void field(char **p, char **out)
{
	char *sep = *p ? strchr(*p, '\x1f') : NULL;

	*out = *p ? *p : "";
	if (sep) {
		*sep = '\0';
		*p = sep + 1;
	} else {
		*p = NULL;
	}
}

static void check_json(const struct dcv_report *r, const char *json)
{
	struct json_object *root = json_tokener_parse(json), *checks, *o, *v;

	FUZZ_ASSERT(root != NULL);
	FUZZ_ASSERT(json_object_object_get_ex(root, "checks", &checks));
	FUZZ_ASSERT((int)json_object_array_length(checks) == r->n);
	for (int i = 0; i < r->n; i++) {
		const struct dcv_check *c = &r->checks[i];
		bool found = false;
		/* grouping by host may reorder: find it by id and message */
		for (int k = 0; k < r->n && !found; k++) {
			o = json_object_array_get_idx(checks, (size_t)k);
			FUZZ_ASSERT(json_object_object_get_ex(o, "id", &v));
			if (!printable(c->id) || strcmp(json_object_get_string(v), c->id) != 0)
				continue;
			FUZZ_ASSERT(json_object_object_get_ex(o, "message", &v));
			found = !printable(c->message) || strcmp(json_object_get_string(v), c->message) == 0;
		}
		FUZZ_ASSERT(found || !printable(c->id));
	}
	json_object_put(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size), *rec = text;
	struct dcv_report r = { .duration_ms = 1 };
	struct dcv_buf out = DCV_BUF_INIT;

	while (rec && r.n < MAX_CHECKS) {
		char *next = strchr(rec, '\x1e');
		char *id, *host, *msg, *ev;
		if (next)
			*next++ = '\0';
		field(&rec, &id);
		field(&rec, &host);
		field(&rec, &msg);
		field(&rec, &ev);
		dcv_report_add(&r, id, host, (enum dcv_check_status)(strlen(id) % 5), (long)strlen(msg),
			       *ev ? ev : NULL, "%s", msg);
		rec = next;
	}
	if (r.n > 1) {
		r.diagnosis.hop = xstrdup(r.checks[1].host);
		r.diagnosis.cause = xstrdup(r.checks[1].message);
		r.diagnosis.hint = xstrdup(r.checks[0].message);
	}
	r.version = xstrdup("0.1-fuzz");
	dcv_report_json(&r, false, &out);
	check_json(&r, dcv_buf_str(&out));
	dcv_buf_reset(&out);
	void (*plain[])(const struct dcv_report *, bool, struct dcv_buf *) = {
		dcv_report_junit, dcv_report_tap, dcv_report_prometheus,
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		plain[i](&r, i == 1, &out);
		FUZZ_ASSERT(!memchr(out.data, 0x1b, out.len));
		dcv_buf_reset(&out);
	}
	dcv_report_text(&r, false, true, &out);
	FUZZ_ASSERT(!memchr(out.data, 0x1b, out.len));
	dcv_buf_release(&out);
	dcv_report_release(&r);
	free(text);
	return 0;
}
