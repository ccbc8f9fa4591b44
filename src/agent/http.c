// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's HTTP server: libmicrohttpd run from the agent's own loop
 * (one thread: no endpoint races discovery), read-only GETs, requests
 * bounded in size, time and connections.  A query becomes numbers and
 * bounded hex strings (query.c) that are only compared.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#include "agent.h"
#include "query.h"

#define HTTP_CONNECTIONS	16
#define HTTP_PER_IP		8
#define HTTP_TIMEOUT_S		10
#define HTTP_REQUEST_BYTES	(16 * 1024)	/* headers and query: no GET needs more */

struct http {
	struct MHD_Daemon *d;
	struct agent *ag;
	int epoll_fd;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* An error: its one line, as text */
static enum MHD_Result fail(struct MHD_Connection *c, unsigned int code, const char *why)
{
	char *body;
	int n = asprintf(&body, "%s\n", why);

	return n < 0 ? MHD_NO : reply(c, code, "text/plain; charset=utf-8", body, n);
}

struct args {
	struct agent_query q;
	char err[128];
	int bad;
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			      const char *value)
{
	struct args *a = cls;

	if (!a->bad && query_arg(&a->q, key, value, a->err, sizeof(a->err)))
		a->bad = 1;
	return a->bad ? MHD_NO : MHD_YES;
}

/* A body written into a memory stream, or NULL */
static FILE *body_open(char **buf, size_t *len)
{
	*buf = NULL;
	return open_memstream(buf, len);
}

static enum MHD_Result serve_metrics(struct http *h, struct MHD_Connection *c)
{
	size_t len;
	char *buf;
	FILE *f = body_open(&buf, &len);
	int err;

	if (!f)
		return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	err = metrics_write(h->ag, f);
	if (fclose(f) || err) {
		free(buf);
		return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the kernel maps");
	}
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}

static enum MHD_Result serve_pprof(struct http *h, struct MHD_Connection *c,
				   const struct agent_query *q, bool allocs)
{
	char why[160], *buf;
	size_t len;
	FILE *f;
	int err;

	if (query_need_target(q, why, sizeof(why)))
		return fail(c, MHD_HTTP_BAD_REQUEST, why);
	if (q->has & QUERY_SECONDS)
		return fail(c, MHD_HTTP_BAD_REQUEST, "seconds: deltas are not served yet; "
			    "pprof and Alloy compute them from two cumulative profiles");
	f = body_open(&buf, &len);
	if (!f)
		return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	err = pprof_http_write(h->ag, q, allocs, f, why, sizeof(why));
	if (fclose(f) || err) {
		free(buf);
		if (err == -ENOENT)
			return fail(c, MHD_HTTP_NOT_FOUND, why);
		return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot build the profile");
	}
	return reply(c, MHD_HTTP_OK, "application/octet-stream", buf, len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **state)
{
	struct http *h = cls;
	struct args a = {};
	char *json;

	if (strcmp(method, MHD_HTTP_METHOD_GET))
		return fail(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served");
	/* a GET carries no body: one that does is refused before it is read */
	if (*upload_size)
		return fail(c, MHD_HTTP_BAD_REQUEST, "a GET has no body");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, &a);
	if (a.bad)
		return fail(c, MHD_HTTP_BAD_REQUEST, a.err);
	if (!strcmp(url, "/metrics"))
		return a.q.has ? fail(c, MHD_HTTP_BAD_REQUEST, "/metrics takes no arguments") :
				 serve_metrics(h, c);
	if (!strcmp(url, "/debug/pprof/heap"))
		return serve_pprof(h, c, &a.q, false);
	if (!strcmp(url, "/debug/pprof/allocs"))
		return serve_pprof(h, c, &a.q, true);
	if (!strcmp(url, "/targets")) {
		if (a.q.has)
			return fail(c, MHD_HTTP_BAD_REQUEST, "/targets takes no arguments");
		json = targets_json(h->ag);
		if (!json)
			return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return reply(c, MHD_HTTP_OK, "application/json", json, strlen(json));
	}
	return fail(c, MHD_HTTP_NOT_FOUND, "no such endpoint (/metrics, /targets, "
		    "/debug/pprof/heap, /debug/pprof/allocs)");
}

struct http *http_start(struct agent *ag, int listen_fd)
{
	struct http *h = calloc(1, sizeof(*h));
	const union MHD_DaemonInfo *info;

	if (!h)
		return NULL;
	h->ag = ag;
	h->d = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, h,
				MHD_OPTION_LISTEN_SOCKET, listen_fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_REQUEST_BYTES,
				MHD_OPTION_END);
	info = h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		fprintf(stderr, "pymem-bpf agent: cannot start the HTTP server\n");
		http_stop(h);
		return NULL;
	}
	h->epoll_fd = info->epoll_fd;
	return h;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h);
}

void http_serve(struct http *h, int timeout_ms)
{
	struct pollfd fds[2] = {
		{ .fd = h->epoll_fd, .events = POLLIN },
		{ .fd = news_fd(h->ag->news), .events = POLLIN },
	};
	MHD_UNSIGNED_LONG_LONG to;

	if (MHD_get_timeout(h->d, &to) == MHD_YES && to < (MHD_UNSIGNED_LONG_LONG)timeout_ms)
		timeout_ms = to;
	poll(fds, 2, timeout_ms);
	MHD_run(h->d);
	/* new stacks and code objects, symbolized while their processes live */
	news_poll(h->ag->news, 0);
}
