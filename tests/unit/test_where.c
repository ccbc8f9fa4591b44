// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>
#include "where.h"

#define PY(fn, file, line)	{ PM_FRAME_PYTHON, fn, file, line }
#define NAT(fn, dso)		{ PM_FRAME_NATIVE, fn, dso, 0 }

static const struct where_rule user = { .kind = WHERE_USER };
static const struct where_rule leaf = { .kind = WHERE_LEAF };

static void check_text(const struct pm_frame *f, size_t n, const struct where_rule *r,
		       const char *want)
{
	char *s = where_text(f, n, r);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_stdlib(void **state)
{
	assert_true(where_in_stdlib("/usr/lib/python3.11/json/decoder.py"));
	assert_true(where_in_stdlib("/root/.pyenv/versions/3.8.18/lib/python3.8/re.py"));
	assert_true(where_in_stdlib("/usr/lib64/python3.12/importlib/__init__.py"));
	assert_true(where_in_stdlib("<frozen importlib._bootstrap>"));
	assert_true(where_in_stdlib("<frozen importlib._bootstrap_external>"));
	assert_true(where_in_stdlib("<frozen codecs>"));
	/* installed packages and the user's own code are not */
	assert_false(where_in_stdlib("/usr/lib/python3.11/site-packages/requests/api.py"));
	assert_false(where_in_stdlib("/usr/lib/python3/dist-packages/yaml/__init__.py"));
	assert_false(where_in_stdlib("/venv/lib/python3.11/site-packages/x.py"));
	assert_false(where_in_stdlib("/srv/app.py"));
	assert_false(where_in_stdlib("/srv/lib/python3.x/app.py"));
	assert_false(where_in_stdlib("/srv/mylib/python3.11/app.py"));
	assert_false(where_in_stdlib("<string>"));
	assert_false(where_in_stdlib(""));
	assert_false(where_in_stdlib(NULL));
}

static void test_user_caller(void **state)
{
	struct pm_frame json[5] = {
		PY("<module>", "/srv/app.py", 30),
		PY("parse", "/srv/app.py", 5),
		PY("loads", "/usr/lib/python3.11/json/__init__.py", 346),
		PY("JSONDecoder.raw_decode", "/usr/lib/python3.11/json/decoder.py", 353),
		NAT("PyUnicode_New", "python3.11"),
	};
	struct pm_frame imp[5] = {
		PY("load_plugins", "/srv/app.py", 12),
		PY("import_module", "/usr/lib/python3.11/importlib/__init__.py", 126),
		PY("_gcd_import", "<frozen importlib._bootstrap>", 1206),
		PY("get_data", "<frozen importlib._bootstrap_external>", 1131),
		NAT("malloc", "libc.so.6"),
	};

	/* the leaf is standard library: the nearest user frame is named first */
	assert_ptr_equal(where_caller(json, 5, &user), &json[1]);
	assert_ptr_equal(where_frame(json, 5, &user), &json[1]);
	check_text(json, 5, &user, "parse (/srv/app.py:5) -> ... -> "
		   "JSONDecoder.raw_decode (json/decoder.py:353)");
	/* adjacent: no "..." */
	check_text(json, 3, &user, "parse (/srv/app.py:5) -> loads (json/__init__.py:346)");
	check_text(imp, 5, &user, "load_plugins (/srv/app.py:12) -> ... -> "
		   "get_data (<frozen importlib._bootstrap_external>:1131)");
	/* the leaf rule names the leaf, its path whole */
	assert_null(where_caller(json, 5, &leaf));
	assert_ptr_equal(where_frame(json, 5, &leaf), &json[3]);
	check_text(json, 5, &leaf,
		   "JSONDecoder.raw_decode (/usr/lib/python3.11/json/decoder.py:353)");
}

static void test_leaf_is_enough(void **state)
{
	struct pm_frame own[3] = {
		PY("main", "/srv/app.py", 1),
		PY("work", "/srv/app.py", 9),
		NAT("malloc", "libc.so.6"),
	};
	/* nothing outside the standard library: the leaf it is */
	struct pm_frame all_std[2] = {
		PY("_run_module_as_main", "<frozen runpy>", 198),
		PY("_find_and_load", "<frozen importlib._bootstrap>", 1176),
	};
	struct pm_frame native[2] = { NAT("start_thread", "libc.so.6"), NAT("malloc", "libc.so.6") };

	assert_null(where_caller(own, 3, &user));
	assert_ptr_equal(where_frame(own, 3, &user), &own[1]);
	check_text(own, 3, &user, "work (/srv/app.py:9)");
	assert_null(where_caller(all_std, 2, &user));
	check_text(all_std, 2, &user, "_find_and_load (<frozen importlib._bootstrap>:1176)");
	assert_null(where_caller(native, 2, &user));
	assert_ptr_equal(where_frame(native, 2, &user), &native[1]);
	check_text(native, 2, &user, "malloc [libc.so.6]");
	assert_null(where_frame(NULL, 0, &user));
	check_text(NULL, 0, &user, "[unknown]");
}

static void test_glob_rule(void **state)
{
	struct pm_frame f[4] = {
		PY("handler", "/srv/views.py", 20),
		PY("render", "/venv/lib/python3.11/site-packages/jinja2/environment.py", 1301),
		PY("concat", "/venv/lib/python3.11/site-packages/jinja2/utils.py", 80),
		NAT("malloc", "libc.so.6"),
	};
	struct where_rule r;

	assert_int_equal(where_parse("*/site-packages/*", &r), 0);
	assert_int_equal(r.kind, WHERE_GLOB);
	assert_ptr_equal(where_caller(f, 4, &r), &f[0]);
	/* a glob rule shows paths as they are */
	check_text(f, 4, &r, "handler (/srv/views.py:20) -> ... -> "
		   "concat (/venv/lib/python3.11/site-packages/jinja2/utils.py:80)");
	/* site-packages is not the standard library: the default names the leaf */
	assert_null(where_caller(f, 4, &user));
	/* a function name matches as well as a file */
	assert_int_equal(where_parse("concat", &r), 0);
	assert_ptr_equal(where_caller(f, 4, &r), &f[1]);

	assert_int_equal(where_parse("leaf", &r), 0);
	assert_int_equal(r.kind, WHERE_LEAF);
	assert_int_equal(where_parse("user", &r), 0);
	assert_int_equal(r.kind, WHERE_USER);
	assert_int_equal(where_parse("", &r), -EINVAL);
	assert_int_equal(where_parse(NULL, &r), -EINVAL);
}

static void test_label_one_line(void **state)
{
	struct pm_frame f = PY("odd\nname", "/srv/a\rb.py", 3);
	char *s = where_label(&f, &user);

	assert_string_equal(s, "odd name (/srv/a b.py:3)");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stdlib),
		cmocka_unit_test(test_user_caller),
		cmocka_unit_test(test_leaf_is_enough),
		cmocka_unit_test(test_glob_rule),
		cmocka_unit_test(test_label_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
