/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_expo.c: the Prometheus text exposition (format 0.0.4) of a
 * metrics snapshot, and the GET /metrics handler.
 *
 * Every family has its HELP and TYPE line even when it has no sample yet.
 * Series whose label set would repeat are merged here: route table entries
 * that share a pattern (GET and POST /v1/models) for the {route} families,
 * model labels that share a model (two providers) for tokens, and those that
 * share a provider for upstream errors.  Counters and histograms show only
 * label sets that have counted something.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "metrics.h"
#include "metrics_int.h"
#include "registry.h"
#include "route.h"
#include "sg_limits.h"
#include "usage.h"

#define L metrics_layout

struct out {
	struct sg_buf *b;
	bool ok;
};

static void emit(struct out *o, const char *fmt, ...) SG_PRINTF(2, 3);

static void
emit(struct out *o, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (!o->ok)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Label values are bounded (256-byte models), so a line always fits. */
	if (n < 0 || (size_t) n >= sizeof(line) || !sg_buf_append(o->b, line, (size_t) n))
		o->ok = false;
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* s as a label value (backslash, double quote and line feed escaped) into buf. */
static const char *
esc(const char *s, char *buf, size_t len)
{
	size_t j = 0;

	for (; *s != '\0' && j + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[j++] = '\\';
			buf[j++] = *s;
		} else if (*s == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else {
			buf[j++] = *s;
		}
	}
	buf[j] = '\0';
	return buf;
}

static uint64_t
hist_count(const uint64_t *h)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= METRICS_NBOUNDS; i++)
		n += h[i];
	return n;
}

/* acc += h, word by word. */
static void
hist_merge(uint64_t *acc, const uint64_t *h)
{
	for (size_t i = 0; i < HW; i++)
		acc[i] += h[i];
}

/* One histogram's samples; labels is the label text without braces ('route="x"'). */
static void
hist_emit(struct out *o, const char *name, const char *labels, const uint64_t *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < METRICS_NBOUNDS; i++) {
		cum += h[i];
		emit(o, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, metrics_bounds[i], (unsigned long long) cum);
	}
	cum += h[METRICS_NBOUNDS];
	emit(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long) cum);
	emit(o, "%s_sum{%s} %.6f\n", name, labels, (double) h[METRICS_NBOUNDS + 1] / 1e6);
	emit(o, "%s_count{%s} %llu\n", name, labels, (unsigned long long) cum);
}

static const char *
row_route(size_t row)
{
	return row < L.nroutes ? L.routes[row].pattern : "unmatched";
}

static const char *
row_method(size_t row)
{
	return http_method_name(row < L.nroutes ? L.routes[row].method : (enum sg_method)(1u << (row - L.nroutes)));
}

/* Whether an earlier row has row's route label (its series were merged into that one's). */
static bool
route_seen(size_t row)
{
	for (size_t k = 0; k < row; k++)
		if (strcmp(row_route(k), row_route(row)) == 0)
			return true;
	return false;
}

static void
render_routes(struct out *o, const struct metrics_snapshot *s)
{
	char rbuf[512], sbuf[16], labels[600];
	uint64_t busy = 0, acc[HW];

	family(o, "stackgate_requests_total", "counter", "Requests answered, by route pattern, method and status.");
	for (size_t row = 0; row < L.nrows; row++) {
		for (size_t st = 0; st < NSTATUS; st++) {
			uint64_t v = s->w[L.requests + row * NSTATUS + st];

			if (v != 0)
				emit(o, "stackgate_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
				     esc(row_route(row), rbuf, sizeof(rbuf)), row_method(row),
				     metrics_status_label(st, sbuf, sizeof(sbuf)), (unsigned long long) v);
		}
	}
	family(o, "stackgate_request_duration_seconds", "histogram",
	       "Time inside stackgate from reading a request to the end of its answer, by route pattern.");
	for (size_t row = 0; row < L.nrows; row++) {
		if (route_seen(row))
			continue;
		memset(acc, 0, sizeof(acc));
		for (size_t k = row; k < L.nrows; k++)
			if (strcmp(row_route(k), row_route(row)) == 0)
				hist_merge(acc, &s->w[L.duration + k * HW]);
		if (hist_count(acc) == 0)
			continue;
		snprintf(labels, sizeof(labels), "route=\"%s\"", esc(row_route(row), rbuf, sizeof(rbuf)));
		hist_emit(o, "stackgate_request_duration_seconds", labels, acc);
	}
	family(o, "stackgate_inflight_requests", "gauge", "Requests being served now, by route pattern.");
	for (size_t row = 0; row < L.nroutes; row++) {
		uint64_t n = 0;

		busy += s->w[L.inflight + row];
		if (route_seen(row))
			continue;
		for (size_t k = row; k < L.nroutes; k++)
			if (strcmp(row_route(k), row_route(row)) == 0)
				n += s->w[L.inflight + k];
		emit(o, "stackgate_inflight_requests{route=\"%s\"} %llu\n", esc(row_route(row), rbuf, sizeof(rbuf)),
		     (unsigned long long) n);
	}
	family(o, "stackgate_streams_open", "gauge", "Server-sent event streams open now.");
	emit(o, "stackgate_streams_open %llu\n", (unsigned long long) s->w[G_STREAMS]);
	family(o, "stackgate_threads", "gauge", "Worker threads of every worker, serving a request (busy) or not.");
	emit(o, "stackgate_threads{state=\"busy\"} %llu\n", (unsigned long long) busy);
	emit(o, "stackgate_threads{state=\"idle\"} %llu\n",
	     (unsigned long long) (s->w[G_THREADS] > busy ? s->w[G_THREADS] - busy : 0));
}

/* Whether an earlier used label has the same model (same_provider: the same provider) as label i. */
static bool
label_seen(const struct metrics_snapshot *s, size_t i, bool by_provider)
{
	for (size_t k = 0; k < i; k++)
		if (s->labels[k].state == 2 && strcmp(by_provider ? s->labels[k].provider : s->labels[k].model,
						      by_provider ? s->labels[i].provider : s->labels[i].model) == 0)
			return true;
	return false;
}

static void
render_models(struct out *o, const struct metrics_snapshot *s)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} hists[] = {
		{"stackgate_upstream_duration_seconds",
		 "Upstream calls from their start to the upstream's last byte, by provider and model.", M_UPSTREAM},
		{"stackgate_time_to_first_token_seconds",
		 "Streams from the request's start to the upstream's first event, by provider and model.", M_TTFT},
	};
	char pbuf[300], mbuf[560], labels[900];

	for (size_t h = 0; h < SG_ARRAY_LEN(hists); h++) {
		family(o, hists[h].name, "histogram", hists[h].help);
		for (size_t i = 0; i <= L.nmodels; i++) {
			const uint64_t *v = &s->w[L.models + i * MW + hists[h].off];

			if (s->labels[i].state != 2 || hist_count(v) == 0)
				continue;
			snprintf(labels, sizeof(labels), "provider=\"%s\",model=\"%s\"",
				 esc(s->labels[i].provider, pbuf, sizeof(pbuf)),
				 esc(s->labels[i].model, mbuf, sizeof(mbuf)));
			hist_emit(o, hists[h].name, labels, v);
		}
	}
	family(o, "stackgate_tokens_total", "counter", "Tokens of inference requests, by model and kind.");
	for (size_t i = 0; i <= L.nmodels; i++) {
		uint64_t t[2] = {0, 0};

		if (s->labels[i].state != 2 || label_seen(s, i, false))
			continue;
		for (size_t k = i; k <= L.nmodels; k++) {
			if (s->labels[k].state == 2 && strcmp(s->labels[k].model, s->labels[i].model) == 0) {
				t[0] += s->w[L.models + k * MW + M_TOKENS];
				t[1] += s->w[L.models + k * MW + M_TOKENS + 1];
			}
		}
		esc(s->labels[i].model, mbuf, sizeof(mbuf));
		for (int kind = 0; kind < 2; kind++)
			if (t[kind] != 0)
				emit(o, "stackgate_tokens_total{model=\"%s\",kind=\"%s\"} %llu\n", mbuf,
				     kind == 0 ? "prompt" : "completion", (unsigned long long) t[kind]);
	}
	family(o, "stackgate_upstream_errors_total", "counter",
	       "Upstream calls that failed, by provider and kind (unreachable, timeout, status_4xx, status_5xx, "
	       "invalid_reply).");
	for (size_t i = 0; i <= L.nmodels; i++) {
		if (s->labels[i].state != 2 || label_seen(s, i, true))
			continue;
		esc(s->labels[i].provider, pbuf, sizeof(pbuf));
		for (size_t kind = 0; kind < NERRKINDS; kind++) {
			uint64_t n = 0;

			for (size_t k = i; k <= L.nmodels; k++)
				if (s->labels[k].state == 2 &&
				    strcmp(s->labels[k].provider, s->labels[i].provider) == 0)
					n += s->w[L.models + k * MW + M_ERRORS + kind];
			if (n != 0)
				emit(o, "stackgate_upstream_errors_total{provider=\"%s\",kind=\"%s\"} %llu\n", pbuf,
				     metrics_error_kinds[kind], (unsigned long long) n);
		}
	}
}

bool
metrics_render(const struct metrics_snapshot *s, const size_t *registry_objects, struct sg_buf *out)
{
	struct out o = {out, true};

	family(&o, "stackgate_build_info", "gauge", "The running stackgate's version (always 1).");
	emit(&o, "stackgate_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	render_routes(&o, s);
	render_models(&o, s);
	family(&o, "stackgate_registry_cache_hits_total", "counter",
	       "Registry lookups the per-process cache answered.");
	emit(&o, "stackgate_registry_cache_hits_total %llu\n", (unsigned long long) s->w[L.misc + MISC_CACHE_HITS]);
	family(&o, "stackgate_registry_cache_misses_total", "counter",
	       "Registry lookups that went to PostgreSQL because the cache was not loaded.");
	emit(&o, "stackgate_registry_cache_misses_total %llu\n", (unsigned long long) s->w[L.misc + MISC_CACHE_MISSES]);
	family(&o, "stackgate_registry_objects", "gauge",
	       "Registry objects by type, as the answering worker's cache holds them.");
	for (int t = 0; registry_objects != NULL && t < SG_RT_COUNT; t++)
		emit(&o, "stackgate_registry_objects{type=\"%s\"} %zu\n", registry_type_name((enum sg_rtype) t),
		     registry_objects[t]);
	family(&o, "stackgate_db_errors_total", "counter",
	       "PostgreSQL calls that failed: no connection, or an error that is not the client's.");
	emit(&o, "stackgate_db_errors_total %llu\n", (unsigned long long) s->w[L.misc + MISC_DB_ERRORS]);
	family(&o, "stackgate_rate_limited_total", "counter", "Requests refused with 429 by the limits, by reason.");
	for (int i = 0; i < LIMITS_REASON_COUNT; i++)
		emit(&o, "stackgate_rate_limited_total{reason=\"%s\"} %llu\n",
		     limits_reason_name((enum limits_reason) i),
		     (unsigned long long) limits_rejected_total((enum limits_reason) i));
	family(&o, "stackgate_usage_rows_dropped_total", "counter",
	       "Usage rows dropped on this host (the worker's queue was full, or rows were left at its stop).");
	emit(&o, "stackgate_usage_rows_dropped_total %llu\n", (unsigned long long) usage_rows_dropped_total());
	family(&o, "stackgate_worker_restarts_total", "counter",
	       "Workers of the current generation that exited and were replaced.");
	emit(&o, "stackgate_worker_restarts_total %llu\n", (unsigned long long) s->restarts);
	return o.ok;
}

sg_status
metrics_handler(struct request *r)
{
	struct metrics_snapshot *s;
	struct sg_buf b = {0};
	size_t objects[SG_RT_COUNT];
	const char *param;
	sg_status st = SG_OK;

	/* Only nginx's metrics location sets this param (a client header would be HTTP_*): elsewhere it is missing. */
	param = http_param(r, "STACKGATE_METRICS");
	if (param == NULL || strcmp(param, "on") != 0)
		return http_fail(r, SG_E_NOT_FOUND, NULL, "no route for %s", r->path);
	if (!metrics_on())
		return http_fail(r, SG_E_NOT_FOUND, NULL, "metrics are disabled (metrics.enabled is false)");
	for (int t = 0; t < SG_RT_COUNT; t++)
		objects[t] = registry_cache_count((enum sg_rtype) t);
	s = metrics_snapshot_new();
	if (s == NULL || !metrics_render(s, objects, &b))
		st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	else if (http_stream_begin(r, 200, "text/plain; version=0.0.4; charset=utf-8"))
		(void) http_stream_write(r, b.p, b.len);
	metrics_snapshot_free(s);
	sg_buf_free(&b);
	return st;
}
