// SPDX-License-Identifier: GPL-2.0
/*
 * The kubelet's /pods over libcurl.  Every request is bounded: http(s) only,
 * no redirects, KUBELET_TIMEOUT_MS in all, KUBELET_MAX_BODY bytes of answer
 * (a node's 110 pods with their specs are a few MiB).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "kubelet.h"
#include "kubelet_podlist.h"

#define KUBELET_TIMEOUT_MS	5000
#define KUBELET_CONNECT_MS	2000
#define KUBELET_MAX_BODY	(32u << 20)
#define KUBELET_TOKEN_MAX	16384

struct kubelet {
	pthread_mutex_t lock;
	CURL *curl;
	struct curl_slist *headers;	/* Authorization: Bearer, when there is a token */
	struct kube_podlist pods;
	struct timespec fetched;	/* when the last request was made */
	bool fetching;			/* a request is under way, the lock dropped */
	unsigned long requests;
	char last_err[256];
};

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *nb;

	if (b->len + n > KUBELET_MAX_BODY) {
		b->too_big = true;
		return 0;	/* aborts the transfer */
	}
	nb = realloc(b->buf, b->len + n + 1);
	if (!nb)
		return 0;
	memcpy(nb + b->len, data, n);
	b->buf = nb;
	b->len += n;
	return n;
}

/* The token file's first line, as an "Authorization: Bearer" header; 0, or -errno. */
static int bearer_header(const char *path, struct curl_slist **headers)
{
	char token[KUBELET_TOKEN_MAX], *line;
	struct curl_slist *h;
	ssize_t n;
	size_t len = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(token) - 1 && (n = read(fd, token + len, sizeof(token) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	token[len] = 0;
	token[strcspn(token, "\r\n")] = 0;
	if (!token[0] || len == sizeof(token) - 1)
		return -EINVAL;
	if (asprintf(&line, "Authorization: Bearer %s", token) < 0)
		return -ENOMEM;
	h = curl_slist_append(NULL, line);
	if (!h)
		err = -ENOMEM;
	*headers = h;
	explicit_bzero(token, sizeof(token));
	explicit_bzero(line, strlen(line));
	free(line);
	return err;
}

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * GET /pods into @pl; 0, or -1 with the reason in @err.  Only one caller at a
 * time (k->fetching): it owns the curl handle, not the lock.
 */
static int fetch(struct kubelet *k, struct kube_podlist *pl, char *err, size_t errlen)
{
	struct body b = {};
	long status = 0;
	CURLcode rc;
	int ret = -1;

	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(k->curl);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s",
			 b.too_big ? "answer larger than 32 MiB" : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errlen, "HTTP status %ld%s", status,
			 status == 401 ? " (no token, or one the kubelet does not accept)" :
			 status == 403 ? " (the service account needs get on nodes/proxy)" : "");
		goto out;
	}
	if (kube_podlist_parse(b.buf ? b.buf : "", b.len, pl)) {
		snprintf(err, errlen, "the answer is not a PodList");
		goto out;
	}
	ret = 0;
out:
	free(b.buf);
	return ret;
}

/*
 * Asks the kubelet again, unless another thread is asking or the last answer
 * is younger than KUBELET_REFRESH_S.  Called with k->lock held, which it drops
 * during the request: lookups meanwhile see the old list.
 */
static void refresh(struct kubelet *k, bool force)
{
	struct kube_podlist pl;
	char err[sizeof(k->last_err)];
	int ret;

	if (k->fetching || (!force && since(&k->fetched) < KUBELET_REFRESH_S))
		return;
	k->fetching = true;
	k->requests++;
	clock_gettime(CLOCK_MONOTONIC, &k->fetched);
	pthread_mutex_unlock(&k->lock);
	ret = fetch(k, &pl, err, sizeof(err));
	pthread_mutex_lock(&k->lock);
	k->fetching = false;
	if (ret) {
		snprintf(k->last_err, sizeof(k->last_err), "%s", err);
		return;
	}
	kube_podlist_free(&k->pods);
	k->pods = pl;
	k->last_err[0] = 0;
}

static int setup(struct kubelet *k, const char *url, const char *token_path, const char *ca_path,
		 char *err, size_t errlen)
{
	char *pods_url;
	size_t n = strlen(url);
	int ret;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(err, errlen, "--kubelet: not an http:// or https:// URL: %s", url);
		return -EINVAL;
	}
	while (n && url[n - 1] == '/')
		n--;
	if (asprintf(&pods_url, "%.*s/pods", (int)n, url) < 0)
		return -ENOMEM;
	k->curl = curl_easy_init();
	if (!k->curl) {
		free(pods_url);
		return -ENOMEM;
	}
	if (token_path && !access(token_path, F_OK)) {
		ret = bearer_header(token_path, &k->headers);
		if (ret) {
			snprintf(err, errlen, "--kubelet: cannot read the token %s: %s", token_path,
				 strerror(-ret));
			free(pods_url);
			return ret;
		}
	}
	curl_easy_setopt(k->curl, CURLOPT_URL, pods_url);
	free(pods_url);
	curl_easy_setopt(k->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(k->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, (long)KUBELET_TIMEOUT_MS);
	curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)KUBELET_CONNECT_MS);
	curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);	/* called from server threads */
	curl_easy_setopt(k->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)KUBELET_MAX_BODY);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, k->headers);
	if (ca_path && !access(ca_path, F_OK))
		curl_easy_setopt(k->curl, CURLOPT_CAINFO, ca_path);
	pthread_mutex_lock(&k->lock);
	refresh(k, true);
	pthread_mutex_unlock(&k->lock);
	if (k->last_err[0]) {
		snprintf(err, errlen, "--kubelet: GET %.*s/pods: %s", (int)n, url, k->last_err);
		return -EIO;
	}
	return 0;
}

struct kubelet *kubelet_open_creds(const char *url, const char *token_path, const char *ca_path,
				   char *err, size_t errlen)
{
	struct kubelet *k;

	/* once per process, before any thread uses curl; later calls only count */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "--kubelet: libcurl failed to initialise");
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "--kubelet: out of memory");
		curl_global_cleanup();
		return NULL;
	}
	if (errlen)
		err[0] = 0;
	pthread_mutex_init(&k->lock, NULL);
	if (setup(k, url, token_path, ca_path, err, errlen)) {
		if (!err[0])
			snprintf(err, errlen, "--kubelet: out of memory");
		kubelet_close(k);
		return NULL;
	}
	return k;
}

struct kubelet *kubelet_open(const char *url, char *err, size_t errlen)
{
	return kubelet_open_creds(url, KUBELET_SA_TOKEN, KUBELET_SA_CA, err, errlen);
}

int kubelet_pod(struct kubelet *k, const char *pod_uid, char *name, size_t nlen,
		char *ns, size_t nslen)
{
	const struct kube_pod *p;
	int ret = -ENOENT;

	pthread_mutex_lock(&k->lock);
	p = kube_podlist_find(&k->pods, pod_uid);
	/* a pod's UID never changes name: only a miss is worth asking again */
	if (!p) {
		refresh(k, false);
		p = kube_podlist_find(&k->pods, pod_uid);
	}
	if (p) {
		snprintf(name, nlen, "%s", p->name);
		snprintf(ns, nslen, "%s", p->ns);
		ret = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

unsigned long kubelet_requests(struct kubelet *k, char *last_err, size_t errlen)
{
	unsigned long n;

	pthread_mutex_lock(&k->lock);
	n = k->requests;
	snprintf(last_err, errlen, "%s", k->last_err);
	pthread_mutex_unlock(&k->lock);
	return n;
}

void kubelet_close(struct kubelet *k)
{
	if (!k)
		return;
	curl_easy_cleanup(k->curl);
	curl_slist_free_all(k->headers);
	kube_podlist_free(&k->pods);
	pthread_mutex_destroy(&k->lock);
	free(k);
	curl_global_cleanup();
}
