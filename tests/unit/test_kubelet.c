// SPDX-License-Identifier: GPL-2.0
/*
 * The kubelet client: the PodList parser on a real-shaped answer and on broken
 * ones, then HTTP and HTTPS round trips against tests/unit/fake_kubelet.py
 * (the kubelet's /pods, with its bearer-token check), from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "cgroup_id.h"
#include "kubelet.h"
#include "kubelet_podlist.h"

#define FIXTURE	"tests/unit/fixtures/kubelet_pods.json"
#define WEB_UID	"03f3f104-3215-44f2-9686-d4dd1f05a7ed"
#define STATIC_UID	"187bff14cccb94f179e943eacce55bb3"
#define JOB_UID	"1e597579-417e-482f-bf65-5fe170c3aebd"
#define NEW_UID	"35550f44-f691-427e-b57d-ab6127d2cb65"
#define TOKEN	"eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.c2VydmljZWFjY291bnQ.c2ln"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_parse_fixture(void **state)
{
	struct kube_podlist pl;
	const struct kube_pod *p;
	struct cgroup_id id;
	size_t len;
	char *json = slurp(FIXTURE, &len);

	(void)state;
	assert_int_equal(kube_podlist_parse(json, len, &pl), 0);
	assert_int_equal(pl.n, 3);
	assert_int_equal(pl.skipped, 0);
	/* the cgroup path of the web pod's container, as the systemd driver names it */
	cgroup_id_parse("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
			"03f3f104_3215_44f2_9686_d4dd1f05a7ed.slice/cri-containerd-"
			"09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439.scope\n", &id);
	p = kube_podlist_find(&pl, id.pod_uid);
	assert_non_null(p);
	assert_string_equal(p->name, "web-7d4b9c8f6d-x2kqp");
	assert_string_equal(p->ns, "shop");
	p = kube_podlist_find(&pl, STATIC_UID);
	assert_non_null(p);
	assert_string_equal(p->name, "kube-apiserver-node-a");
	assert_string_equal(p->ns, "kube-system");
	p = kube_podlist_find(&pl, JOB_UID);
	assert_non_null(p);
	assert_string_equal(p->ns, "analytics");
	assert_null(kube_podlist_find(&pl, NEW_UID));
	assert_null(kube_podlist_find(&pl, ""));
	kube_podlist_free(&pl);
	free(json);
}

static void test_parse_broken(void **state)
{
	static const char *const not_podlists[] = {
		"", "null", "[]", "{}", "{\"items\":{}}", "{\"items\":[]} x", "{\"items\":[",
		"{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":403}",
	};
	/* one good pod among items that are not pods */
	static const char items[] =
		"{\"items\":[1,null,{},{\"metadata\":[]},"
		"{\"metadata\":{\"uid\":\"03F3F104-3215-44F2-9686-D4DD1F05A7ED\",\"name\":\"a\",\"namespace\":\"b\"}},"
		"{\"metadata\":{\"uid\":\"" WEB_UID "\",\"name\":\"\",\"namespace\":\"b\"}},"
		"{\"metadata\":{\"uid\":\"" WEB_UID "\",\"name\":\"a\",\"namespace\":7}},"
		"{\"metadata\":{\"uid\":\"" WEB_UID "\",\"name\":\"a\\u0000b\",\"namespace\":\"b\"}},"
		"{\"metadata\":{\"uid\":\"" JOB_UID "\",\"name\":\"ok\",\"namespace\":\"ns\"}}]}\n";
	struct kube_podlist pl;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(not_podlists) / sizeof(not_podlists[0]); i++) {
		print_message("%s\n", not_podlists[i]);
		assert_int_equal(kube_podlist_parse(not_podlists[i], strlen(not_podlists[i]), &pl),
				 -EINVAL);
		assert_int_equal(pl.n, 0);
	}
	assert_int_equal(kube_podlist_parse("{\"items\":[]}", 12, &pl), 0);
	assert_int_equal(pl.n, 0);
	kube_podlist_free(&pl);
	assert_int_equal(kube_podlist_parse(items, strlen(items), &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.skipped, 8);
	assert_string_equal(kube_podlist_find(&pl, JOB_UID)->name, "ok");
	kube_podlist_free(&pl);
}

struct fake {
	pid_t pid;
	char dir[64], log[96], fixture[96], url[64];
};

/* Starts fake_kubelet.py on a copy of the fixture; extra: its options, NULL-terminated. */
static void fake_start(struct fake *f, bool tls, const char *extra[])
{
	const char *argv[16] = { "python3", "tests/unit/fake_kubelet.py", f->fixture, f->log };
	char port[16] = "";
	size_t len, n = 4;
	char *json;
	int pipefd[2];
	FILE *out;

	snprintf(f->dir, sizeof(f->dir), "/tmp/pymem-kubelet-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->log, sizeof(f->log), "%s/requests", f->dir);
	snprintf(f->fixture, sizeof(f->fixture), "%s/pods.json", f->dir);
	json = slurp(FIXTURE, &len);
	spit(f->fixture, json);
	free(json);
	spit(f->log, "");
	while (extra && *extra)
		argv[n++] = *extra++;
	assert_int_equal(pipe(pipefd), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (!f->pid) {
		/* a failed assertion longjmps past fake_stop(): the server goes with us */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	assert_non_null(fgets(port, sizeof(port), out));
	fclose(out);
	port[strcspn(port, "\n")] = 0;
	snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%s/", tls ? "https" : "http", port);
}

static int fake_requests(struct fake *f)
{
	FILE *in = fopen(f->log, "r");
	int c, lines = 0;

	assert_non_null(in);
	while ((c = fgetc(in)) != EOF)
		lines += c == '\n';
	fclose(in);
	return lines;
}

static void fake_stop(struct fake *f)
{
	char cmd[128];

	kill(f->pid, SIGTERM);
	waitpid(f->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_http(void **state)
{
	const char *opts[] = { "--token", TOKEN, NULL };
	char name[KUBE_NAME_LEN + 1], ns[KUBE_NS_LEN + 1], err[256] = "", token[128];
	struct kubelet *k;
	struct fake f;
	size_t len;
	char *json, *grown;

	(void)state;
	fake_start(&f, false, opts);
	snprintf(token, sizeof(token), "%s/token", f.dir);
	spit(token, TOKEN "\n");
	k = kubelet_open_creds(f.url, token, NULL, err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(kubelet_pod(k, WEB_UID, name, sizeof(name), ns, sizeof(ns)), 0);
	assert_string_equal(name, "web-7d4b9c8f6d-x2kqp");
	assert_string_equal(ns, "shop");
	assert_int_equal(kubelet_pod(k, STATIC_UID, name, sizeof(name), ns, sizeof(ns)), 0);
	assert_string_equal(name, "kube-apiserver-node-a");
	/* a pod the kubelet does not have yet: within KUBELET_REFRESH_S, not asked again */
	assert_int_equal(kubelet_pod(k, NEW_UID, name, sizeof(name), ns, sizeof(ns)), -ENOENT);
	assert_int_equal(kubelet_pod(k, NEW_UID, name, sizeof(name), ns, sizeof(ns)), -ENOENT);
	assert_int_equal(fake_requests(&f), 1);
	/* the pod starts; once KUBELET_REFRESH_S has passed, one more request finds it */
	json = slurp(f.fixture, &len);
	while (len && json[len - 1] != ']')	/* the end of items */
		len--;
	assert_true(len > 0);
	assert_true(asprintf(&grown, "%.*s,{\"metadata\":{\"name\":\"late-0\",\"namespace\":\"shop\","
			     "\"uid\":\"" NEW_UID "\"}}]}\n", (int)len - 1, json) > 0);
	spit(f.fixture, grown);
	free(grown);
	free(json);
	sleep(KUBELET_REFRESH_S);
	assert_int_equal(kubelet_pod(k, NEW_UID, name, sizeof(name), ns, sizeof(ns)), 0);
	assert_string_equal(name, "late-0");
	assert_int_equal(kubelet_pod(k, WEB_UID, name, sizeof(name), ns, sizeof(ns)), 0);
	assert_int_equal(fake_requests(&f), 2);
	assert_int_equal(kubelet_requests(k, err, sizeof(err)), 2);
	assert_string_equal(err, "");
	kubelet_close(k);

	/* a wrong token, and none: the kubelet's 401, at open */
	spit(token, "not-the-token\n");
	assert_null(kubelet_open_creds(f.url, token, NULL, err, sizeof(err)));
	print_message("%s\n", err);
	assert_non_null(strstr(err, "HTTP status 401"));
	assert_null(kubelet_open_creds(f.url, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "HTTP status 401"));
	fake_stop(&f);
}

static void test_https(void **state)
{
	char dir[64] = "/tmp/pymem-kubelet-tls-XXXXXX", cert[128], key[128], cmd[512];
	char err[256] = "", name[64], ns[64];
	const char *opts[] = { "--tls", cert, key, NULL };
	struct kubelet *k;
	struct fake f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/kubelet.crt", dir);
	snprintf(key, sizeof(key), "%s/kubelet.key", dir);
	/* a self-signed serving certificate, as the kubelet makes for itself */
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
		 "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null",
		 key, cert);
	assert_int_equal(system(cmd), 0);
	fake_start(&f, true, opts);
	k = kubelet_open_creds(f.url, NULL, cert, err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(kubelet_pod(k, JOB_UID, name, sizeof(name), ns, sizeof(ns)), 0);
	assert_string_equal(name, "batch-report-28871520-q7xzt");
	kubelet_close(k);
	/* the system's CAs do not vouch for it: refused, with curl's reason */
	assert_null(kubelet_open_creds(f.url, NULL, NULL, err, sizeof(err)));
	print_message("%s\n", err);
	assert_non_null(strstr(err, "certificate"));
	fake_stop(&f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_bad_url(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(kubelet_open("ftp://127.0.0.1/", err, sizeof(err)));
	assert_non_null(strstr(err, "not an http:// or https:// URL"));
	/* nothing listens on port 1 */
	assert_null(kubelet_open_creds("http://127.0.0.1:1", NULL, NULL, err, sizeof(err)));
	print_message("%s\n", err);
	assert_non_null(strstr(err, "GET http://127.0.0.1:1/pods"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fixture),
		cmocka_unit_test(test_parse_broken),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_bad_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
