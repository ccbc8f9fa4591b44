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
#include "output_pprof.h"
#include "query.h"
#include "session.h"

#define HTTP_CONNECTIONS	16
#define HTTP_PER_IP		8
#define HTTP_TIMEOUT_S		10
#define HTTP_REQUEST_BYTES	(16 * 1024)	/* headers and query: no GET needs more */

/*
 * A profile request with ?seconds=S: its connection is suspended (the
 * loop serves on) with the counts as they were, until S seconds on.
 */
struct delta {
	struct MHD_Connection *c;
	struct agent_query q;
	bool allocs;
	double due;			/* monotonic seconds */
	struct pm_profile base;
	unsigned int code;		/* the answer, once resumed */
	char *body;
	size_t len;
	struct delta *next;		/* suspended, in http's list */
};

struct http {
	struct MHD_Daemon *d;
	struct agent *ag;
	int epoll_fd;
	struct delta *waiting;
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

/* p as Go's heap or allocs profile; a body, or NULL */
static char *pprof_body(struct pm_profile *p, bool allocs, size_t *len)
{
	char *buf;
	FILE *f = body_open(&buf, len);
	int err;

	if (!f)
		return NULL;
	err = output_pprof_write_as(p, allocs ? PPROF_ALLOC_SPACE : PPROF_INUSE_SPACE, f);
	if (fclose(f) || err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result no_profile(struct MHD_Connection *c, int err, const char *why)
{
	if (err == -ENOENT)
		return fail(c, MHD_HTTP_NOT_FOUND, why);
	return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot build the profile");
}

static enum MHD_Result serve_pprof(struct http *h, struct MHD_Connection *c,
				   const struct agent_query *q, bool allocs, void **state)
{
	struct pm_profile p;
	struct delta *d;
	char why[160], *buf;
	size_t len;
	int err;

	if (query_need_target(q, why, sizeof(why)))
		return fail(c, MHD_HTTP_BAD_REQUEST, why);
	err = pprof_http_profile(h->ag, q, &p, why, sizeof(why));
	if (err)
		return no_profile(c, err, why);
	if (q->has & QUERY_SECONDS) {
		d = calloc(1, sizeof(*d));
		if (!d) {
			pm_profile_free(&p);
			return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		}
		d->c = c;
		d->q = *q;
		d->allocs = allocs;
		d->due = session_now() + q->seconds;
		d->base = p;
		d->next = h->waiting;
		h->waiting = d;
		*state = d;
		MHD_suspend_connection(c);
		return MHD_YES;
	}
	buf = pprof_body(&p, allocs, &len);
	pm_profile_free(&p);
	if (!buf)
		return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot build the profile");
	return reply(c, MHD_HTTP_OK, "application/octet-stream", buf, len);
}

/* A delta's seconds are up: its answer, then its connection resumed */
static void finish_delta(struct http *h, struct delta *d)
{
	struct pm_profile end;
	char why[160];
	int err;

	err = pprof_http_profile(h->ag, &d->q, &end, why, sizeof(why));
	if (!err) {
		pprof_http_delta(&end, &d->base);
		end.duration_s = d->q.seconds;
		d->body = pprof_body(&end, d->allocs, &d->len);
		pm_profile_free(&end);
		d->code = d->body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else {
		/* every process of it exited meanwhile */
		d->code = err == -ENOENT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	MHD_resume_connection(d->c);
}

static void serve_deltas(struct http *h)
{
	struct delta **at = &h->waiting, *d;
	double now = session_now();

	while ((d = *at)) {
		if (d->due > now) {
			at = &d->next;
			continue;
		}
		*at = d->next;
		finish_delta(h, d);
	}
}

/* The resumed request's answer */
static enum MHD_Result answer_delta(struct MHD_Connection *c, struct delta *d)
{
	char *body = d->body;

	d->body = NULL;
	if (d->code == MHD_HTTP_NOT_FOUND)
		return fail(c, d->code, "the processes asked for exited meanwhile");
	if (d->code == MHD_HTTP_SERVICE_UNAVAILABLE)
		return fail(c, d->code, "the agent is stopping");
	if (d->code != MHD_HTTP_OK)
		return fail(c, d->code, "cannot build the profile");
	return reply(c, MHD_HTTP_OK, "application/octet-stream", body, d->len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
			 enum MHD_RequestTerminationCode why)
{
	struct delta *d = *state;

	if (!d)
		return;
	pm_profile_free(&d->base);
	free(d->body);
	free(d);
	*state = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **state)
{
	struct http *h = cls;
	struct args a = {};
	char *json;

	if (*state)
		return answer_delta(c, *state);
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
		return serve_pprof(h, c, &a.q, false, state);
	if (!strcmp(url, "/debug/pprof/allocs"))
		return serve_pprof(h, c, &a.q, true, state);
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
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
				on_request, h,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
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
	/* suspended requests are resumed to be closed */
	while (h->waiting) {
		struct delta *d = h->waiting;

		h->waiting = d->next;
		d->code = MHD_HTTP_SERVICE_UNAVAILABLE;
		MHD_resume_connection(d->c);
	}
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
	serve_deltas(h);
	MHD_run(h->d);
	/* new stacks and code objects, symbolized while their processes live */
	news_poll(h->ag->news, 0);
}
