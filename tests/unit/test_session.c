/* `dcv list-sessions` parsing: every sample of reference §2.4 verbatim, hostile names, CRLF,
 * the JSON form with describe-session's fields (§2.5), empty output and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/err.h"
#include "../../lib/inventory.h"
#include "../../lib/session.h"

/* `text` holds exactly one session with these fields, through both entry points. */
static void one_text(const char *text, const char *id, const char *owner, const char *type, const char *name)
{
	for (int via_text = 0; via_text <= 1; via_text++) {
		struct dcv_sessions s = { 0 };
		struct dcv_err err = DCV_ERR_INIT;
		int rc = via_text ? dcv_sessions_parse_text(text, &s, &err) : dcv_sessions_parse(text, &s, &err);

		if (rc != DCV_OK)
			fail_msg("%s", err.msg);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.v[0].id, id);
		assert_string_equal(s.v[0].owner, owner);
		assert_string_equal(s.v[0].type, type);
		if (name)
			assert_string_equal(s.v[0].name, name);
		else
			assert_null(s.v[0].name);
		assert_int_equal(s.v[0].connections, -1);
		dcv_sessions_release(&s);
	}
}

static void test_session_text_quoted_id_without_name(void **state)
{
	(void)state;
	one_text("Session: 'console' (owner:ubuntu type:console)\n", "console", "ubuntu", "console", NULL);
}

static void test_session_text_unquoted_name_from_windows(void **state)
{
	(void)state;
	one_text("Session: 'a7953489-\xe2\x80\xa6' (owner:admin2 type:console name:windows1)",
		 "a7953489-\xe2\x80\xa6", "admin2", "console", "windows1");
}

static void test_session_text_backslash_owner_and_quoted_name(void **state)
{
	(void)state;
	one_text("Session: test (owner:CORP\\user type:virtual name:'Console')\n", "test", "CORP\\user", "virtual",
		 "Console");
}

static void test_session_text_unquoted_id(void **state)
{
	(void)state;
	one_text("Session: graphics-1 (owner:x type:virtual)\n", "graphics-1", "x", "virtual", NULL);
}

static void test_session_text_documented_form(void **state)
{
	(void)state;
	one_text("Session: <id> (owner:<owner> type:<virtual|console> name:'<name>')\n", "<id>", "<owner>",
		 "<virtual|console>", "<name>");
	one_text("Session: my-session (owner:dcvuser type:virtual name:'My Session')", "my-session", "dcvuser",
		 "virtual", "My Session");
}

static void test_session_text_names_with_spaces_and_parentheses(void **state)
{
	(void)state;
	one_text("Session: 'desk' (owner:ubuntu type:console name:'Ubuntu Desktop')", "desk", "ubuntu", "console",
		 "Ubuntu Desktop");
	one_text("Session: 'lab' (owner:ubuntu type:virtual name:'Lab (GPU) 2')", "lab", "ubuntu", "virtual",
		 "Lab (GPU) 2");
	/* unquoted, the name runs to the closing parenthesis, parentheses inside included */
	one_text("Session: desk (owner:ubuntu type:console name:My Desktop (2))", "desk", "ubuntu", "console",
		 "My Desktop (2)");
}

static void test_session_text_hostile_names_round_trip(void **state)
{
	(void)state;
	one_text("Session: 'x' (owner:ubuntu type:virtual name:'a \"b\" $(reboot)')", "x", "ubuntu", "virtual",
		 "a \"b\" $(reboot)");
	one_text("Session: 'x' (owner:ubuntu type:virtual name:'it's; `id` name:y')", "x", "ubuntu", "virtual",
		 "it's; `id` name:y");
	one_text("Session: 'desk' (owner:ec2-user type:virtual name:'it's `id`; rm -rf / #')", "desk", "ec2-user",
		 "virtual", "it's `id`; rm -rf / #");
	/* an apostrophe followed by a blank, as a closing quote would be */
	one_text("Session: 'shared' (owner:ubuntu type:virtual name:'the users' desk')", "shared", "ubuntu",
		 "virtual", "the users' desk");
	one_text("Session: 'x' (owner:ubuntu type:virtual name:'')", "x", "ubuntu", "virtual", NULL);
}

static void test_session_text_crlf_and_several_lines(void **state)
{
	struct dcv_sessions s = { 0 };
	struct dcv_err err = DCV_ERR_INIT;
	(void)state;

	assert_int_equal(dcv_sessions_parse_text("Session: 'console' (owner:ubuntu type:console)\r\n"
						 "Session: test (owner:CORP\\user type:virtual name:'Console')\r\n"
						 "Session: 'a7953489' (owner:admin2 type:console name:windows1)\r\n"
						 "\r\n",
						 &s, &err),
			 DCV_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].type, "console");
	assert_null(s.v[0].name);
	assert_string_equal(s.v[1].owner, "CORP\\user");
	assert_string_equal(s.v[1].name, "Console");
	assert_string_equal(s.v[2].name, "windows1");
	assert_ptr_equal(dcv_sessions_find(&s, "test"), &s.v[1]);
	assert_null(dcv_sessions_find(&s, "tes"));
	assert_null(dcv_sessions_find(&s, "Console"));
	assert_null(dcv_sessions_find(&s, ""));
	dcv_sessions_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
}

static void test_session_text_no_sessions(void **state)
{
	static const char *const empty[] = { "There are no sessions available.\n",
					     "There are no sessions available.\r\n", "There are no sessions available.",
					     "", "\n\n", " \r\n\t" };
	(void)state;

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		struct dcv_sessions s = { 0 };
		struct dcv_err err = DCV_ERR_INIT;
		assert_int_equal(dcv_sessions_parse_text(empty[i], &s, &err), DCV_OK);
		assert_int_equal(s.n, 0);
		assert_int_equal(dcv_sessions_parse(empty[i], &s, &err), DCV_OK);
		assert_int_equal(s.n, 0);
	}
}

/* An error (DCV_E_REMOTE) whose message holds `named`; `out` stays as it was. */
static void fails(const char *text, const char *named)
{
	struct dcv_session sentinel = { 0 };
	struct dcv_sessions s = { &sentinel, 7 };
	struct dcv_err err = DCV_ERR_INIT;

	assert_int_equal(dcv_sessions_parse(text, &s, &err), DCV_E_REMOTE);
	assert_ptr_equal(s.v, &sentinel);
	assert_int_equal(s.n, 7);
	if (!strstr(err.msg, named))
		fail_msg("message '%s' does not name '%s'", err.msg, named);
}

static void test_session_text_garbage_names_the_line(void **state)
{
	(void)state;
	/* one bad line spoils the lot: a half-read list would hide sessions */
	fails("Session: 'console' (owner:ubuntu type:console)\nERROR: dcvserver is not running\n",
	      "line 2: 'ERROR: dcvserver is not running'");
	fails("sudo: a password is required\n", "'sudo: a password is required'");
	fails("dcv: command not found", "'dcv: command not found'");
	fails("Session: 'console'\n", "'Session: 'console''");
	fails("Session: 'console' owner:ubuntu type:console\n", "owner:ubuntu");
	fails("Session: 'console' (owner:ubuntu)\n", "owner:ubuntu");
	fails("Session: 'console' (owner:ubuntu type:console\n", "type:console");
	fails("Session:  (owner:ubuntu type:console)\n", "line 1");
	fails("'quoted'\n", "line 1: ''quoted''"); /* the line as it was, quotes included */
}

/* `dcv list-sessions --json` as DCV pretty-prints it, with describe-session's fields (§2.5). */
static const char pretty[] =
	"[\n"
	"  {\n"
	"    \"id\" : \"console\",\n"
	"    \"owner\" : \"ubuntu\",\n"
	"    \"user\" : \"dcv\",\n"
	"    \"name\" : \"Ubuntu Desktop\",\n"
	"    \"num-of-connections\" : 2,\n"
	"    \"creation-time\" : \"2024-05-02T09:12:44.123456Z\",\n"
	"    \"last-disconnection-time\" : \"\",\n"
	"    \"licensing-mode\" : \"demo\",\n"
	"    \"licenses\" : [\n"
	"      {\n"
	"        \"product\" : \"dcv\",\n"
	"        \"status\" : \"licensed\",\n"
	"        \"check-timestamp\" : \"2024-05-02T09:12:44.123456Z\",\n"
	"        \"expiration-date\" : \"2024-06-01T00:00:00.000000Z\"\n"
	"      }\n"
	"    ],\n"
	"    \"storage-root\" : \"\",\n"
	"    \"type\" : \"console\",\n"
	"    \"status\" : \"created\",\n"
	"    \"x11-display\" : \":0\",\n"
	"    \"x11-authority\" : \"/run/user/1000/dcv/console.xauth\",\n"
	"    \"display-layout\" : [\n"
	"      {\n"
	"        \"width\" : 800,\n"
	"        \"height\" : 600,\n"
	"        \"x\" : 0,\n"
	"        \"y\" : 0\n"
	"      }\n"
	"    ]\n"
	"  },\n"
	"  {\n"
	"    \"id\" : \"x\",\n"
	"    \"owner\" : \"CORP\\\\user\",\n"
	"    \"name\" : \"a \\\"b\\\" $(reboot)\",\n"
	"    \"type\" : \"virtual\",\n"
	"    \"num-of-connections\" : 0\n"
	"  }\n"
	"]\n";

static void test_session_json_pretty_printed(void **state)
{
	struct dcv_sessions s = { 0 };
	struct dcv_err err = DCV_ERR_INIT;
	(void)state;

	if (dcv_sessions_parse(pretty, &s, &err) != DCV_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0].id, "console");
	assert_string_equal(s.v[0].owner, "ubuntu");
	assert_string_equal(s.v[0].type, "console");
	assert_string_equal(s.v[0].name, "Ubuntu Desktop");
	assert_int_equal(s.v[0].connections, 2);
	assert_string_equal(s.v[1].owner, "CORP\\user");
	assert_string_equal(s.v[1].name, "a \"b\" $(reboot)");
	assert_int_equal(s.v[1].connections, 0);
	assert_ptr_equal(dcv_sessions_find(&s, "x"), &s.v[1]);
	dcv_sessions_release(&s);

	/* CRLF line ends and leading blanks change nothing */
	assert_int_equal(dcv_sessions_parse("\r\n  [ { \"id\" : \"a\", \"owner\" : \"b\", \"type\" : \"virtual\", "
					    "\"num-of-connections\" : 1 } ]\r\n",
					    &s, &err),
			 DCV_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].connections, 1);
	dcv_sessions_release(&s);
}

static void test_session_json_missing_keys(void **state)
{
	struct dcv_sessions s = { 0 };
	struct dcv_err err = DCV_ERR_INIT;
	(void)state;

	assert_int_equal(dcv_sessions_parse_json("[{\"id\": \"only\"}, {\"id\": 7, \"name\": \"\", \"owner\": null}]",
						 &s, &err),
			 DCV_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0].id, "only");
	assert_string_equal(s.v[0].owner, "");
	assert_string_equal(s.v[0].type, "");
	assert_null(s.v[0].name);
	assert_int_equal(s.v[0].connections, -1);
	assert_string_equal(s.v[1].id, "7");
	assert_string_equal(s.v[1].owner, "");
	assert_null(s.v[1].name); /* "" is no name */
	dcv_sessions_release(&s);
}

static void test_session_json_empty(void **state)
{
	static const char *const empty[] = { "[]", "[ ]\n", "\n  [\n]\n", "", "  \n\t", NULL };
	(void)state;

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		struct dcv_sessions s = { 0 };
		struct dcv_err err = DCV_ERR_INIT;
		assert_int_equal(dcv_sessions_parse_json(empty[i], &s, &err), DCV_OK);
		assert_int_equal(s.n, 0);
		assert_int_equal(dcv_sessions_parse(empty[i], &s, &err), DCV_OK);
		assert_int_equal(s.n, 0);
	}
}

static void test_session_json_garbage(void **state)
{
	static const char *const bad[] = {
		"{\"id\": \"console\"}", "[1, 2]", "[{\"id\": \"x\"}", "[] trailing", "[{\"id\": \"x\"},]x",
		"null", "\"console\"", "[ { \"id\" : \"console\" ] }",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dcv_sessions s = { 0 };
		struct dcv_err err = DCV_ERR_INIT;
		if (dcv_sessions_parse_json(bad[i], &s, &err) != DCV_E_REMOTE)
			fail_msg("accepted %s", bad[i]);
		assert_int_equal(s.n, 0);
		assert_null(s.v);
		assert_non_null(strstr(err.msg, "dcv list-sessions --json"));
	}
	/* an object reaches the JSON parser and its message, not "unexpected line" */
	fails("{\n  \"id\" : \"console\",\n  \"type\" : \"console\"\n}\n", "array of sessions");
	fails("[{\"id\": \"a\"}, \"b\"]", "element 2 is not a session object");
}

static void test_session_parse_picks_the_format(void **state)
{
	struct dcv_sessions s = { 0 };
	struct dcv_err err = DCV_ERR_INIT;
	(void)state;

	assert_int_equal(dcv_sessions_parse("  \n[{\"id\": \"j\", \"type\": \"virtual\"}]", &s, &err), DCV_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].id, "j");
	dcv_sessions_release(&s);
	assert_int_equal(dcv_sessions_parse("\nSession: 't' (owner:u type:virtual)\n", &s, &err), DCV_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].id, "t");
	assert_int_equal(s.v[0].connections, -1);
	dcv_sessions_release(&s);
	dcv_sessions_release(&s); /* released twice is harmless */
	dcv_sessions_release(NULL);
	assert_null(dcv_sessions_find(&s, "t"));
}

/* The ensure rule for an agent asking for session "desk" owned by ubuntu, virtual, named "Ubuntu
 * Desktop", against what list-sessions printed. */
static enum dcv_session_action ensure(const char *listed, char *reason, size_t n)
{
	struct dcv_host h = { .session = "desk", .session_owner = "ubuntu", .session_type = "virtual",
			      .session_name = "Ubuntu Desktop" };
	struct dcv_sessions s = { 0 };
	struct dcv_err err = DCV_ERR_INIT;
	struct dcv_session_ensure e;

	if (dcv_sessions_parse(listed, &s, &err) != DCV_OK)
		fail_msg("%s", err.msg);
	dcv_session_ensure_plan(&h, &s, &e);
	dcv_sessions_release(&s);
	snprintf(reason, n, "%s", e.reason);
	return e.action;
}

static void test_session_ensure_right_session_needs_nothing(void **state)
{
	char why[256];
	(void)state;

	assert_int_equal(ensure("[{\"id\": \"desk\", \"owner\": \"ubuntu\", \"type\": \"virtual\", "
				"\"name\": \"Ubuntu Desktop\"}, {\"id\": \"other\", \"owner\": \"x\"}]",
				why, sizeof(why)),
			 DCV_SESSION_NONE);
	assert_string_equal(why, "session 'desk' (owner ubuntu, virtual) exists");
	/* a server that does not say the type: unknown is no difference */
	assert_int_equal(ensure("[{\"id\": \"desk\", \"owner\": \"ubuntu\", \"name\": \"Ubuntu Desktop\"}]",
				why, sizeof(why)),
			 DCV_SESSION_NONE);
}

static void test_session_ensure_absent_is_created(void **state)
{
	char why[256];
	(void)state;

	assert_int_equal(ensure("", why, sizeof(why)), DCV_SESSION_CREATE);
	assert_string_equal(why, "no session 'desk'");
	assert_int_equal(ensure("[{\"id\": \"Desk\", \"owner\": \"ubuntu\", \"type\": \"virtual\"}]", why,
				sizeof(why)),
			 DCV_SESSION_CREATE);
}

static void test_session_ensure_other_settings_are_recreated(void **state)
{
	char why[256];
	(void)state;

	assert_int_equal(ensure("[{\"id\": \"desk\", \"owner\": \"root\", \"type\": \"virtual\", "
				"\"name\": \"Ubuntu Desktop\"}]", why, sizeof(why)),
			 DCV_SESSION_RECREATE);
	assert_string_equal(why, "session 'desk' has owner 'root' instead of 'ubuntu'");
	assert_int_equal(ensure("[{\"id\": \"desk\", \"owner\": \"ubuntu\", \"type\": \"console\", "
				"\"name\": \"Ubuntu Desktop\"}]", why, sizeof(why)),
			 DCV_SESSION_RECREATE);
	assert_string_equal(why, "session 'desk' has type 'console' instead of 'virtual'");
	assert_int_equal(ensure("[{\"id\": \"desk\", \"owner\": \"ubuntu\", \"type\": \"virtual\"}]", why,
				sizeof(why)),
			 DCV_SESSION_RECREATE);
	assert_string_equal(why, "session 'desk' has name '' instead of 'Ubuntu Desktop'");
}

/* DCV's automatic console session carries no name (reference §1.1, §2.4): the inventory's
 * session-name is not held against it, but owner and type still are. */
static void test_session_automatic_console_ignores_the_name(void **state)
{
	struct dcv_host h = { .session = "console", .session_owner = "ubuntu", .session_type = "console",
			      .session_name = "Ubuntu Desktop" };
	struct dcv_session unnamed = { "console", "ubuntu", "console", NULL, 0 };
	struct dcv_session root = { "console", "root", "console", NULL, 0 };
	char why[128] = "";
	(void)state;

	assert_true(dcv_session_automatic(&h));
	assert_true(dcv_session_fits(&h, &unnamed, why, sizeof(why)));
	assert_false(dcv_session_fits(&h, &root, why, sizeof(why)));
	assert_string_equal(why, "owner 'root' instead of 'ubuntu'");
	h.session = "desk"; /* a console session under another id is dcvctl's, name and all */
	assert_false(dcv_session_automatic(&h));
	unnamed.id = "desk";
	assert_false(dcv_session_fits(&h, &unnamed, why, sizeof(why)));
	h.session = "console";
	h.session_type = "virtual";
	assert_false(dcv_session_automatic(&h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_text_quoted_id_without_name),
		cmocka_unit_test(test_session_text_unquoted_name_from_windows),
		cmocka_unit_test(test_session_text_backslash_owner_and_quoted_name),
		cmocka_unit_test(test_session_text_unquoted_id),
		cmocka_unit_test(test_session_text_documented_form),
		cmocka_unit_test(test_session_text_names_with_spaces_and_parentheses),
		cmocka_unit_test(test_session_text_hostile_names_round_trip),
		cmocka_unit_test(test_session_text_crlf_and_several_lines),
		cmocka_unit_test(test_session_text_no_sessions),
		cmocka_unit_test(test_session_text_garbage_names_the_line),
		cmocka_unit_test(test_session_json_pretty_printed),
		cmocka_unit_test(test_session_json_missing_keys),
		cmocka_unit_test(test_session_json_empty),
		cmocka_unit_test(test_session_json_garbage),
		cmocka_unit_test(test_session_parse_picks_the_format),
		cmocka_unit_test(test_session_ensure_right_session_needs_nothing),
		cmocka_unit_test(test_session_ensure_absent_is_created),
		cmocka_unit_test(test_session_ensure_other_settings_are_recreated),
		cmocka_unit_test(test_session_automatic_console_ignores_the_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
