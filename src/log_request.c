/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_request.c: the access log, one line per request when it ends (log.h):
 * in the text format method, path, status, duration, principal, key; in the
 * JSON format one object with the request id, principal, key, route pattern,
 * status and durations, and for an inference request its model, provider,
 * tokens and upstream timings (from r->inference).
 */
#include "config.h"

#include <stdio.h>

#include "http.h"
#include "log.h"
#include "route.h"

static void
log_request_json(const struct request *r, int64_t dur)
{
	const struct request_inference *inf = &r->inference;
	struct log_record lr;

	log_record_begin(&lr, SG_LOG_INFO);
	log_record_str(&lr, "event", "request");
	log_record_str(&lr, "method", r->method_name);
	log_record_str(&lr, "path", r->path);
	log_record_str(&lr, "route", r->route != NULL ? r->route->pattern : NULL);
	log_record_int(&lr, "status", r->final_status);
	log_record_ms(&lr, "duration_ms", dur);
	log_record_str(&lr, "principal", r->id.principal);
	log_record_str(&lr, "key_id", r->id.key_id);
	if (r->client_gone)
		log_record_bool(&lr, "client_gone", true);
	if (inf->active) {
		log_record_str(&lr, "kind", inf->kind);
		log_record_str(&lr, "model", inf->model);
		log_record_str(&lr, "provider", inf->provider_id[0] != '\0' ? inf->provider_id : NULL);
		log_record_bool(&lr, "stream", inf->streamed);
		log_record_int(&lr, "prompt_tokens", (long long) inf->prompt_tokens);
		log_record_int(&lr, "completion_tokens", (long long) inf->completion_tokens);
		log_record_int(&lr, "total_tokens", (long long) inf->total_tokens);
		log_record_bool(&lr, "usage_reported", inf->usage_reported);
		if (inf->upstream_start_us != 0) {
			log_record_int(&lr, "upstream_status", inf->upstream_status);
			log_record_ms(&lr, "upstream_ms", inf->upstream_us);
			log_record_ms(&lr, "gateway_ms", dur - inf->upstream_us);
			if (inf->streamed)
				log_record_ms(&lr, "ttft_ms", inf->ttft_us);
		}
	}
	log_record_end(&lr);
}

/* For an inference request, what it did (r->inference), after the text line's usual fields. */
static void
inference_summary(const struct request *r, char *buf, size_t len)
{
	const struct request_inference *in = &r->inference;

	buf[0] = '\0';
	if (!in->active)
		return;
	snprintf(buf, len, " %s model=%s provider=%s%s upstream=%d tokens=%lld+%lld=%lld%s bytes=%zu/%zu ttft=%lldms",
		 in->kind, in->model, in->provider_id, in->streamed ? " stream" : "", in->upstream_status,
		 (long long) in->prompt_tokens, (long long) in->completion_tokens, (long long) in->total_tokens,
		 in->usage_reported ? "" : " estimated", in->request_bytes, in->reply_bytes,
		 (long long) (in->ttft_us / 1000));
}

/*
 * The decoded path as one field of the access line: blanks, controls, '%',
 * '=' and '"' percent-encoded, so that no path reads as the line's own fields
 * ("/v1/x 200 0.1ms principal=admin").  Cut at len - 1 bytes.
 */
static const char *
path_field(const char *path, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *) path; *p != '\0' && o + 4 <= len; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%' || *p == '=' || *p == '"') {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		} else {
			buf[o++] = (char) *p;
		}
	}
	buf[o] = '\0';
	return buf;
}

void
log_request(const struct request *r)
{
	int64_t dur = sg_now_us() - r->start_us;
	char inf[768], path[1024];

	if (!log_enabled(SG_LOG_INFO))
		return; /* the access log is info: with log_level warn nothing is formatted */
	if (log_json()) {
		log_request_json(r, dur);
		return;
	}
	inference_summary(r, inf, sizeof(inf));
	log_info("%s %s %d %lld.%03lldms principal=%s%s%s%s%s", r->method_name ? r->method_name : "-",
		 r->path ? path_field(r->path, path, sizeof(path)) : "-", r->final_status, (long long) (dur / 1000),
		 (long long) (dur % 1000), r->id.principal ? r->id.principal : "-", r->id.key_id ? " key=" : "",
		 r->id.key_id ? r->id.key_id : "", r->client_gone ? " client-gone" : "", inf);
}
