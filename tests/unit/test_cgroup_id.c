// SPDX-License-Identifier: GPL-2.0
/*
 * Container and pod identity from /proc/PID/cgroup as each runtime and driver
 * writes it.  Every sample is a real one, with where it was published: lines
 * users pasted from `cat /proc/PID/cgroup`, or cgroup paths from
 * `systemd-cgls`, `tree /sys/fs/cgroup` and runtime logs written out as the
 * line the kernel shows for a process in that cgroup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cgroup_id.h"

struct sample {
	const char *name;
	const char *text;
	const char *container, *pod_uid, *runtime;
};

/* containerd (CRI), the runtime of most managed clusters */
#define CTD_ID	"09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439"
#define CTD_POD	"03f3f104-3215-44f2-9686-d4dd1f05a7ed"
#define CTD_STATIC_ID	"c203a2647ef1ad78e990157c50331f3b6ef0b03336cf08535d6bf7faa5421415"
#define CTD_STATIC_POD	"187bff14cccb94f179e943eacce55bb3"
#define CTD_COLON_ID	"ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459"
#define CTD_COLON_POD	"0125ec2f-b64a-4868-8f5b-94b56cbab864"
#define KIND_ID	"a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e"
#define KIND_POD	"1e597579-417e-482f-bf65-5fe170c3aebd"
#define GKE_ID	"dbc9f149296cec5d12b78385eb5b2c0cfe20b476f117c15c76d981cff44053c1"
#define GKE_POD	"85401dd3-38cd-47b6-a90a-e16c0e1c06e6"
/* CRI-O, OpenShift's */
#define CRIO_ID	"5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c"
#define CRIO_POD	"a5c1f8d5-1919-434d-add7-4afaafdaef89"
#define OCP_ID	"805b902ed98fdc1409c76e9aa94964787a904c80f46fc3ee74283509108f5e73"
#define OCP_SANDBOX	"468f848e2ebec7203ed55748d08337851af589ac42eb551c572446a5c68fe631"
#define OCP_POD	"35550f44-f691-427e-b57d-ab6127d2cb65"
#define CRIO_FS_ID	"dc4b5f11a034ac50f4bf7a0f2396fce881f58dcb5b2fa5f0f74d5c2ad924c083"
#define CRIO_FS_POD	"44e2e33e-776b-4284-a647-4bd959899c91"
#define CRIO_CONMON	"c055fa05e5c1c20cc4ef3e2ebd180ab360b5369538c9b7cd536b3e6c58311b39"
#define MINIKUBE_NODE	"d6701ec289c56e4391acb11d07474b3139466857a305490575508a8b7a9fcf22"
#define MINIKUBE_ID	"89e8f450417b56acf3089925dfd8f050dd50e950e18cfe83ea923269df601102"
#define MINIKUBE_POD	"ae7a96fb-2bdc-46b0-96e2-78e4af94847b"
/* docker, alone and as the kubelet's runtime (dockershim) */
#define DOCKER_ID	"a2ffe0e97ac22657a2a023ad628e9df837c38a03b1ebc904d3f6d644eb1a1a81"
#define DOCKER_SD_ID	"9b98bb265ea4c149d9a786380dd07716d341c3e925f2616040c6cd9ac8c4b75c"
#define DOCKER_K8S_ID	"d0b3604b67ac7930dd34ba3a796627e3e4717d12309e90a4afe3f38b6816ac98"
#define DOCKER_K8S_POD	"7d4424e6-bb13-42f4-a47a-45a4828bf54d"
#define DOCKER_FS_ID	"d28e0087cf8f3f0429f755d60b0de415b20fcf76736ded7bab6e30e7b739ee36"
#define DOCKER_FS_POD	"9a18ffb8-8513-11e7-b26e-7e29fbe2a5a3"
/* podman */
#define PODMAN_V1_ID	"2521e906f0a0c758c3a7dc4fd68c197e32e96abb4b36807d0b0ede6d014a7c24"
#define PODMAN_V2_ID	"cf21d19260ace8544fe8b769fc2638bf2c0873dfbfff0b6253f0569b26a1d5eb"
#define PODMAN_USER_ID	"93e4d1f949c1b52721d1c62dbc7f19e100fa6be3e6c214e9edf9346ac7f69514"
#define PODMAN_CONMON	"a2bc7b153f034b17f358cde43a7f8c7475147e8a0d1b2573c26473244ec44ce4"
#define PODMAN_HERE	"4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"

#define CTD_SD_PATH	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" \
			"03f3f104_3215_44f2_9686_d4dd1f05a7ed.slice/cri-containerd-" CTD_ID ".scope"
#define CRIO_SD_PATH	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" \
			"a5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-" CRIO_ID ".scope"
#define CTD_COLON_SLICE	"kubepods-besteffort-pod0125ec2f_b64a_4868_8f5b_94b56cbab864.slice" \
			":cri-containerd:" CTD_COLON_ID
#define DOCKER_K8S_PATH	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" \
			"7d4424e6_bb13_42f4_a47a_45a4828bf54d.slice/docker-" DOCKER_K8S_ID ".scope"

static const struct sample samples[] = {
	/* netdata/netdata#4868 (containerd, systemd driver; `tree /sys/fs/cgroup/blkio`) */
	{ "containerd, systemd driver, cgroup v1, burstable",
	  "12:blkio:" CTD_SD_PATH "\n11:memory:" CTD_SD_PATH "\n1:name=systemd:" CTD_SD_PATH "\n",
	  CTD_ID, CTD_POD, "containerd" },
	/* same tree: a static pod (kube-apiserver, etcd) is named by its manifest's hash */
	{ "containerd, systemd driver, static pod",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
	  CTD_STATIC_POD ".slice/cri-containerd-" CTD_STATIC_ID ".scope\n",
	  CTD_STATIC_ID, CTD_STATIC_POD, "containerd" },
	/*
	 * open-telemetry/opentelemetry-java#4507 and duckdb/duckdb#16608: the
	 * kubelet's systemd cgroupsPath "slice:prefix:id" taken as a cgroupfs path
	 */
	{ "containerd, systemd path under cgroupfs, cgroup v1, besteffort",
	  "11:perf_event:/" CTD_COLON_SLICE "\n"
	  "10:blkio:/system.slice/containerd.service/" CTD_COLON_SLICE "\n"
	  "9:cpuacct,cpu:/system.slice/containerd.service/" CTD_COLON_SLICE "\n"
	  "8:cpuset:/" CTD_COLON_SLICE "\n",
	  CTD_COLON_ID, CTD_COLON_POD, "containerd" },
	/* containerd/nri#227: kind, cgroup v2, the kubelet's cgroup root "kubelet" */
	{ "containerd in kind, systemd driver, cgroup v2, besteffort",
	  "0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	  "kubelet-kubepods-besteffort-pod1e597579_417e_482f_bf65_5fe170c3aebd.slice/"
	  "cri-containerd-" KIND_ID ".scope\n", KIND_ID, KIND_POD, "containerd" },
	/* containers/crun#729 (mountinfo of a pod on containerd, cgroupfs driver) */
	{ "containerd, cgroupfs driver, cgroup v1, besteffort",
	  "1:name=systemd:/kubepods/besteffort/pod" GKE_POD "/" GKE_ID "\n",
	  GKE_ID, GKE_POD, "" },
	/* google/gvisor#8269: cgroup v2 with the cgroupfs driver on containerd */
	{ "containerd, cgroupfs driver, cgroup v2, besteffort",
	  "0::/kubepods/besteffort/pod" GKE_POD "/" GKE_ID "\n", GKE_ID, GKE_POD, "" },
	/* AliyunContainerService/terway-qos#20: a Guaranteed pod sits right under kubepods */
	{ "cgroupfs driver, guaranteed",
	  "0::/kubepods/pod04efb3b8-31e7-4724-aa8a-c43d749cd33f/" GKE_ID "\n",
	  GKE_ID, "04efb3b8-31e7-4724-aa8a-c43d749cd33f", "" },
	/* opencontainers/runc#4620 (`cat /proc/21689/cgroup`, CRI-O, cgroup v1) */
	{ "cri-o, systemd driver, cgroup v1, burstable",
	  "13:freezer:" CRIO_SD_PATH "\n12:cpuset:" CRIO_SD_PATH "\n11:files:/\n"
	  "1:name=systemd:" CRIO_SD_PATH "\n", CRIO_ID, CRIO_POD, "cri-o" },
	/* same issue: conmon beside the container, in the pod but not in the container */
	{ "cri-o's conmon, systemd driver, cgroup v1",
	  "1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
	  "a5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-conmon-" CRIO_ID ".scope\n",
	  "", CRIO_POD, "" },
	/* containerd/nri#227: OpenShift, cgroup v2; a container, then the pod's sandbox (no .scope) */
	{ "cri-o, systemd driver, cgroup v2",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
	  "35550f44_f691_427e_b57d_ab6127d2cb65.slice/crio-" OCP_ID ".scope\n",
	  OCP_ID, OCP_POD, "cri-o" },
	{ "cri-o pod sandbox, systemd driver, cgroup v2",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
	  "35550f44_f691_427e_b57d_ab6127d2cb65.slice/crio-" OCP_SANDBOX "\n",
	  OCP_SANDBOX, OCP_POD, "cri-o" },
	/* istio/istio#55139: conmon in system.slice, cgroup v2 */
	{ "cri-o's conmon outside the pod, cgroup v2",
	  "0::/system.slice/crio-conmon-" CRIO_CONMON ".scope\n", "", "", "" },
	/* cri-o/cri-o#5511: the cgroupfs driver */
	{ "cri-o, cgroupfs driver, cgroup v1, burstable",
	  "4:cpu,cpuacct:/kubepods/burstable/pod" CRIO_FS_POD "/crio-" CRIO_FS_ID "\n"
	  "0::/\n", CRIO_FS_ID, CRIO_FS_POD, "cri-o" },
	/* kubernetes/minikube#11280: CRI-O in a minikube node that is a docker container */
	{ "cri-o in a minikube node, systemd driver, besteffort",
	  "0::/docker/" MINIKUBE_NODE "/kubepods.slice/kubepods-besteffort.slice/"
	  "kubepods-besteffort-podae7a96fb_2bdc_46b0_96e2_78e4af94847b.slice/crio-"
	  MINIKUBE_ID ".scope\n", MINIKUBE_ID, MINIKUBE_POD, "cri-o" },
	/* docker/for-linux#1293 (Debian 10, cgroupfs driver, hybrid) */
	{ "docker, cgroupfs driver, cgroup v1",
	  "12:rdma:/\n11:perf_event:/docker/" DOCKER_ID "\n9:memory:/docker/" DOCKER_ID "\n"
	  "1:name=systemd:/docker/" DOCKER_ID "\n0::/system.slice/containerd.service\n",
	  DOCKER_ID, "", "docker" },
	/* nginx-proxy/docker-gen#186 (Fedora 23, systemd driver) */
	{ "docker, systemd driver, cgroup v1",
	  "11:pids:/\n10:devices:/system.slice/docker-" DOCKER_SD_ID ".scope\n"
	  "2:memory:/system.slice/docker-" DOCKER_SD_ID ".scope\n"
	  "1:name=systemd:/system.slice/docker-" DOCKER_SD_ID ".scope\n",
	  DOCKER_SD_ID, "", "docker" },
	/* docker/docs#14545 (Docker's runmetrics page): cgroup v2, rootful and rootless */
	{ "docker, systemd driver, cgroup v2",
	  "0::/system.slice/docker-" DOCKER_SD_ID ".scope\n", DOCKER_SD_ID, "", "docker" },
	{ "rootless docker, cgroup v2",
	  "0::/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" DOCKER_SD_ID
	  ".scope\n", DOCKER_SD_ID, "", "docker" },
	/* lxc/lxc#3890 (`cat /proc/self/cgroup` in a pod on docker, systemd driver) */
	{ "docker under the kubelet, systemd driver, cgroup v1, burstable",
	  "12:rdma:/\n11:freezer:" DOCKER_K8S_PATH "\n10:pids:" DOCKER_K8S_PATH "\n",
	  DOCKER_K8S_ID, DOCKER_K8S_POD, "docker" },
	/* moby/moby#34584 (docker under the kubelet, cgroupfs driver) */
	{ "docker under the kubelet, cgroupfs driver, cgroup v1, besteffort",
	  "2:cpu:/kubepods/besteffort/pod" DOCKER_FS_POD "/" DOCKER_FS_ID "\n",
	  DOCKER_FS_ID, DOCKER_FS_POD, "" },
	/* podman-container-tools/podman#10602 (Ubuntu 20.04, systemd, cgroup v1) */
	{ "podman, systemd driver, cgroup v1",
	  "12:pids:/machine.slice/libpod-" PODMAN_V1_ID ".scope\n"
	  "11:memory:/machine.slice/libpod-" PODMAN_V1_ID ".scope\n"
	  "1:name=systemd:/machine.slice/libpod-" PODMAN_V1_ID ".scope/init.scope\n"
	  "0::/machine.slice/libpod-" PODMAN_V1_ID ".scope\n", PODMAN_V1_ID, "", "podman" },
	/* podman-container-tools/podman#20423 (Fedora 38, crun's "container" sub-cgroup) */
	{ "podman, systemd driver, cgroup v2",
	  "0::/user.slice/user-0.slice/user@0.service/machine.slice/libpod-" PODMAN_V2_ID
	  ".scope/container\n", PODMAN_V2_ID, "", "podman" },
	/* podman-container-tools/podman#11690 (rootless, cgroup v2) */
	{ "rootless podman, cgroup v2",
	  "0::/user.slice/user-1006.slice/user@1006.service/user.slice/libpod-" PODMAN_USER_ID
	  ".scope\n", PODMAN_USER_ID, "", "podman" },
	/* falcosecurity/libs#1613 (`systemd-cgls`): podman's conmon is not in the container */
	{ "podman's conmon",
	  "0::/machine.slice/libpod-conmon-" PODMAN_CONMON ".scope\n", "", "", "" },
	/* measured on this project's VMs: podman with runc and cgroupfs, hybrid cgroups */
	{ "podman, cgroupfs, hybrid",
	  "13:misc:/libpod_parent/libpod-" PODMAN_HERE "\n"
	  "1:name=systemd:/libpod_parent/libpod-" PODMAN_HERE "\n"
	  "0::/libpod_parent/libpod-" PODMAN_HERE "\n", PODMAN_HERE, "", "podman" },
	/*
	 * The agent's own pod in a private cgroup namespace (containerd's default on
	 * cgroup v2): the kernel shows a cgroup outside the reader's namespace root
	 * through "/.." (cgroup_namespaces(7); systemd/systemd#35261)
	 */
	{ "seen from another pod's cgroup namespace, cgroup v2",
	  "0::/../../../kubepods-besteffort.slice/kubepods-besteffort-pod"
	  "1e597579_417e_482f_bf65_5fe170c3aebd.slice/cri-containerd-" KIND_ID ".scope\n",
	  KIND_ID, KIND_POD, "containerd" },
	/* kubernetes/kubernetes#36807: kubelet 1.5's QoS slice names, docker cgroupfs */
	{ "docker under kubelet 1.5, systemd slices by cgroupfs, cgroup v1",
	  "11:memory:/system.slice/docker.service/BestEffort.slice/BestEffort-pod"
	  "0d33f94b_ab1a_11e6_9e1a_68f7281d8004.slice/"
	  "0c34bcd7d02f321d0df7aa6ea703285b02abebc9096c5128c14091fc43ea1f3b\n",
	  "0c34bcd7d02f321d0df7aa6ea703285b02abebc9096c5128c14091fc43ea1f3b",
	  "0d33f94b-ab1a-11e6-9e1a-68f7281d8004", "" },
	{ "a pod's cgroup but no container of its own yet",
	  "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
	  "ae7a96fb_2bdc_46b0_96e2_78e4af94847b.slice\n", "", MINIKUBE_POD, "" },
	/* systemd/systemd#4602 (a login session, hybrid) and this host's own */
	{ "a host process, hybrid",
	  "10:perf_event:/\n5:devices:/user.slice\n2:pids:/user.slice/user-1000.slice/session-1.scope\n"
	  "0::/user.slice/user-1000.slice/session-1.scope\n", "", "", "" },
	{ "a host process, cgroup v2", "0::/init.scope\n", "", "", "" },
	/* not 64 lower-case hex digits, or an unknown prefix: not an ID */
	{ "a short ID", "0::/system.slice/docker-" "4f797c539e6c" ".scope\n", "", "", "" },
	{ "upper case is not an ID",
	  "0::/docker/4F797C539E6C745DE61A93CA3FF892358ECBCACCD8414D5DB545C38428142970\n", "", "", "" },
	{ "an unknown prefix", "0::/system.slice/foo-" DOCKER_SD_ID ".scope\n", "", "", "" },
	{ "a pod UID one digit short",
	  "0::/kubepods/besteffort/pod04efb3b8-31e7-4724-aa8a-c43d749cd33/x\n", "", "", "" },
	{ "empty", "", "", "", "" },
	{ "no newline, no colons", "garbage", "", "", "" },
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

static void test_pod_uid_valid(void **state)
{
	(void)state;
	assert_true(cgroup_pod_uid_valid(CTD_POD, strlen(CTD_POD)));
	assert_true(cgroup_pod_uid_valid(CTD_STATIC_POD, strlen(CTD_STATIC_POD)));
	assert_false(cgroup_pod_uid_valid("03f3f104_3215_44f2_9686_d4dd1f05a7ed", 36));
	assert_false(cgroup_pod_uid_valid("03F3F104-3215-44F2-9686-D4DD1F05A7ED", 36));
	assert_false(cgroup_pod_uid_valid(CTD_POD, 35));
	assert_false(cgroup_pod_uid_valid("", 0));
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
		cmocka_unit_test(test_pod_uid_valid),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
