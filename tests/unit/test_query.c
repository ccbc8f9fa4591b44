// SPDX-License-Identifier: GPL-2.0
/* The agent's query strings: what Go's pprof, Alloy and Parca send, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>
#include "query.h"

#define CID	"09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439"

static int parse(struct agent_query *q, const char *qs, char *err, size_t errlen)
{
	err[0] = 0;
	return query_parse(q, qs, strlen(qs), err, errlen);
}

static void test_accepted(void **state)
{
	struct agent_query q;
	char err[128];

	(void)state;
	assert_int_equal(parse(&q, "pid=4242&seconds=30", err, sizeof(err)), 0);
	assert_int_equal(q.has, QUERY_PID | QUERY_SECONDS);
	assert_int_equal(q.pid, 4242);
	assert_int_equal(q.seconds, 30);
	assert_int_equal(query_need_target(&q, err, sizeof(err)), 0);
	assert_int_equal(parse(&q, "container=" CID "&debug=1", err, sizeof(err)), 0);
	assert_string_equal(q.container, CID);
	assert_int_equal(q.debug, 1);
	assert_int_equal(parse(&q, "container=09d185410c4e", err, sizeof(err)), 0);
	/* the pod UIDs the cgroup paths give: a UUID, and a static pod's manifest hash */
	assert_int_equal(parse(&q, "pod=03f3f104-3215-44f2-9686-d4dd1f05a7ed&gc", err,
			       sizeof(err)), 0);
	assert_string_equal(q.pod, "03f3f104-3215-44f2-9686-d4dd1f05a7ed");
	assert_true(q.has & QUERY_GC);
	assert_int_equal(parse(&q, "pod=187bff14cccb94f179e943eacce55bb3", err, sizeof(err)), 0);
	assert_string_equal(q.pod, "187bff14cccb94f179e943eacce55bb3");
	assert_int_equal(parse(&q, "", err, sizeof(err)), 0);
	assert_int_equal(q.has, 0);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"pid=0", "pid=4194305", "pid=-1", "pid=1x", "pid=", "pid", "pid=1&pid=1",
		"seconds=0", "seconds=3601", "debug=2", "gc=2",
		"container=09d185410c4", "container=09D185410C4E", "container=" CID "0",
		"pod=03f3f104_3215_44f2_9686_d4dd1f05a7ed", "pod=03F3F104-3215-44F2-9686-D4DD1F05A7ED",
		"pod=187bff14cccb94f179e943eacce55bb", "pod=../../etc/passwd",
		"file=/etc/passwd", "=1", "pid=%34%32",
	};
	struct agent_query q;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(parse(&q, bad[i], err, sizeof(err)), -EINVAL);
		assert_true(err[0] && !strchr(err, '\n'));
	}
	/* a NUL inside the string */
	assert_int_equal(query_parse(&q, "pid=1\0", 6, err, sizeof(err)), -EINVAL);
	/* no target, or two */
	assert_int_equal(parse(&q, "seconds=5", err, sizeof(err)), 0);
	assert_int_equal(query_need_target(&q, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse(&q, "pid=5&pod=187bff14cccb94f179e943eacce55bb3", err, sizeof(err)), 0);
	assert_int_equal(query_need_target(&q, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
