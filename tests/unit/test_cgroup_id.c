// SPDX-License-Identifier: GPL-2.0
/* Container and pod identity from /proc/PID/cgroup as each runtime and driver writes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cgroup_id.h"

#define ID	"4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"
#define UID	"74c13223-5a00-11e9-b385-42010a80018d"
#define UID_	"74c13223_5a00_11e9_b385_42010a80018d"

struct sample {
	const char *name;
	const char *text;
	const char *container, *pod_uid, *runtime;
};

static const struct sample samples[] = {
	{ "containerd, systemd driver, cgroup v2",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	  ".slice/cri-containerd-" ID ".scope\n", ID, UID, "containerd" },
	{ "containerd, cgroupfs driver, cgroup v2",
	  "0::/kubepods/besteffort/pod" UID "/" ID "\n", ID, UID, "" },
	{ "containerd, cgroupfs driver, cgroup v1",
	  "12:memory:/kubepods/besteffort/pod" UID "/" ID "\n"
	  "11:devices:/kubepods/besteffort/pod" UID "/" ID "\n"
	  "1:name=systemd:/kubepods/besteffort/pod" UID "/" ID "\n", ID, UID, "" },
	{ "cri-o, systemd driver, cgroup v2",
	  "0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope\n", ID, UID, "cri-o" },
	{ "cri-o, cgroupfs driver, cgroup v1",
	  "4:memory:/kubepods/burstable/pod" UID "/crio-" ID "\n"
	  "0::/\n", ID, UID, "cri-o" },
	{ "docker, systemd driver, cgroup v1 (no pod)",
	  "10:devices:/system.slice/docker-" ID ".scope\n"
	  "1:name=systemd:/system.slice/docker-" ID ".scope\n", ID, "", "docker" },
	{ "docker, cgroupfs driver, cgroup v1",
	  "4:memory:/docker/" ID "\n2:cpu:/docker/" ID "\n", ID, "", "" },
	{ "docker, systemd driver, cgroup v2",
	  "0::/system.slice/docker-" ID ".scope\n", ID, "", "docker" },
	/* measured on this project's VMs: podman with runc and cgroupfs, hybrid cgroups */
	{ "podman, cgroupfs, hybrid",
	  "13:misc:/libpod_parent/libpod-" ID "\n"
	  "1:name=systemd:/libpod_parent/libpod-" ID "\n"
	  "0::/libpod_parent/libpod-" ID "\n", ID, "", "podman" },
	{ "a pod's cgroup but no container of its own yet",
	  "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice\n",
	  "", UID, "" },
	{ "a host process, cgroup v2",
	  "0::/user.slice/user-0.slice/session-1.scope\n", "", "", "" },
	{ "a host process, hybrid",
	  "12:pids:/user.slice/user-0.slice/session-3.scope\n1:name=systemd:/init.scope\n0::/init.scope\n",
	  "", "", "" },
	/* not 64 hex digits: not an ID */
	{ "a short hex component",
	  "0::/system.slice/docker-4f797c539e6c.scope\n", "", "", "" },
	{ "upper case is not an ID",
	  "0::/docker/4F797C539E6C745DE61A93CA3FF892358ECBCACCD8414D5DB545C38428142970\n",
	  "", "", "" },
	{ "empty", "", "", "", "" },
};

static void test_samples(void **state)
{
	struct cgroup_id id;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		print_message("%s\n", samples[i].name);
		cgroup_id_parse(samples[i].text, &id);
		assert_string_equal(id.container, samples[i].container);
		assert_string_equal(id.pod_uid, samples[i].pod_uid);
		assert_string_equal(id.runtime, samples[i].runtime);
	}
}

/* This test's own process: whatever it is in, the file parses, and no ID is made up. */
static void test_self(void **state)
{
	struct cgroup_id id;

	(void)state;
	assert_int_equal(cgroup_id_read(getpid(), &id), 0);
	assert_true(!id.container[0] || strlen(id.container) == CGROUP_ID_LEN);
	assert_int_equal(cgroup_id_read(-1, &id), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
