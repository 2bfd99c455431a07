/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_limits.c: the limits (sg_limits.h): window arithmetic and UTC period
 * boundaries, the window words, admission and charging per subject (rpm
 * exact, tokens admitted while below and charged at the end, budgets,
 * concurrency, the default cap, the reserve), the 429s' messages and headers
 * (their HTTP status, type and code: check_sg.c's status rows),
 * rules that go away, other hosts' counts, and a killed worker's slot.
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "limits_int.h"
#include "suites.h"

/* ---- Windows ---- */

START_TEST(windows_minute_day)
{
	ck_assert_int_eq(limits_window(LIMITS_MINUTE, 0), 0);
	ck_assert_int_eq(limits_window(LIMITS_MINUTE, 59), 0);
	ck_assert_int_eq(limits_window(LIMITS_MINUTE, 60), 1);
	ck_assert_int_eq(limits_window(LIMITS_DAY, 86399), 0);
	ck_assert_int_eq(limits_window(LIMITS_DAY, 86400), 1);
	ck_assert_int_eq(limits_seconds_left(LIMITS_MINUTE, 60), 60);
	ck_assert_int_eq(limits_seconds_left(LIMITS_MINUTE, 119), 1);
	ck_assert_int_eq(limits_seconds_left(LIMITS_DAY, 86400 + 3600), 82800);
	ck_assert_int_eq(limits_window_start(LIMITS_MINUTE, 28000000), 28000000LL * 60);
	ck_assert_int_eq(limits_window_start(LIMITS_DAY, 19000), 19000LL * 86400);
}
END_TEST

START_TEST(windows_month_boundaries)
{
	/* 2023-12-31T23:59:59Z, 2024-01-01T00:00:00Z */
	ck_assert_int_eq(limits_window(LIMITS_MONTH, 1704067199), 53 * 12 + 11);
	ck_assert_int_eq(limits_window(LIMITS_MONTH, 1704067200), 54 * 12);
	ck_assert_int_eq(limits_window_start(LIMITS_MONTH, 54 * 12), 1704067200);
	ck_assert_int_eq(limits_seconds_left(LIMITS_MONTH, 1704067199), 1);
	/* Leap February: 2024-02-01T00:00:00Z .. 2024-02-29T23:59:59Z, then March. */
	ck_assert_int_eq(limits_window_start(LIMITS_MONTH, 54 * 12 + 1), 1706745600);
	ck_assert_int_eq(limits_window(LIMITS_MONTH, 1709251199), 54 * 12 + 1);
	ck_assert_int_eq(limits_window(LIMITS_MONTH, 1709251200), 54 * 12 + 2);
	ck_assert_int_eq(limits_seconds_left(LIMITS_MONTH, 1706745600), 29 * 86400);
	/* 2023 February has 28 days. */
	ck_assert_int_eq(limits_window_start(LIMITS_MONTH, 53 * 12 + 2) -
				 limits_window_start(LIMITS_MONTH, 53 * 12 + 1),
			 28 * 86400);
	/* The arithmetic agrees with gmtime_r, every 6 hours from 1901 to 2100 (before 1970 too). */
	for (int64_t t = -2177452800LL; t < 4102444800LL; t += 6 * 3600 + 17) {
		time_t tt = (time_t) t;
		struct tm tm;

		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		ck_assert_int_eq(limits_window(LIMITS_MONTH, tt),
				 ((int64_t) tm.tm_year + 1900 - 1970) * 12 + tm.tm_mon);
	}
	/* Every month start maps back to its own index. */
	for (int64_t m = 0; m < 12 * 200; m++) {
		ck_assert_int_eq(limits_window(LIMITS_MONTH, limits_window_start(LIMITS_MONTH, m)), m);
		ck_assert_int_eq(limits_window(LIMITS_MONTH, limits_window_start(LIMITS_MONTH, m) - 1), m - 1);
	}
}
END_TEST

START_TEST(window_words)
{
	uint64_t w = limits_pack(1000, 7);

	ck_assert_uint_eq(limits_count_in(w, 1000), 7);
	ck_assert_uint_eq(limits_count_in(w, 1001), 0);
	ck_assert_uint_eq(limits_count_in(0, 1000), 0);
	/* A month's tokens fit: 2^40 - 1. */
	ck_assert_uint_eq(limits_count_in(limits_pack(5, LIMITS_CNT_MASK), 5), LIMITS_CNT_MASK);
	ck_assert_uint_ne(limits_subject_hash("a", NULL, NULL), limits_subject_hash("a", "", "x"));
	ck_assert_uint_ne(limits_subject_hash("ab", NULL, NULL), limits_subject_hash("a", "b", NULL));
	ck_assert_uint_eq(limits_subject_hash("a", NULL, NULL), limits_subject_hash("a", "", ""));
}
END_TEST

/* ---- Config ---- */

START_TEST(config_keys)
{
	char *errors = NULL;
	struct sg_conf *c = sg_test_conf("{}");

	ck_assert(c->limits_enabled);
	ck_assert_int_eq(c->reserved_threads, 4);
	ck_assert_int_eq(c->limits_default_max_concurrent, 0); /* resolved by the worker: half the pool */
	ck_assert_int_eq(c->limits_max_subjects, 4096);
	conf_free(c);
	c = sg_test_conf(
		"{\"server\": {\"reserved_threads\": \"${env.SG_NO_SUCH_VAR:2}\"},\n"
		" \"limits\": {\"enabled\": \"off\", \"default_max_concurrent\": 10}}");
	ck_assert(!c->limits_enabled);
	ck_assert_int_eq(c->reserved_threads, 2);
	ck_assert_int_eq(c->limits_default_max_concurrent, 10);
	conf_free(c);
	c = conf_load_string(
		"{\"limits\": {\"max_subjects\": 1,\n \"default_max_concurrent\": 0, \"rpm\": 5},\n"
		" \"server\": {\"reserved_threads\": -1}}",
		"t.json", &errors);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(errors,
			 "t.json:1:29: limits.max_subjects: must be an integer between 64 and 1048576, got 1\n"
			 "t.json:2:28: limits.default_max_concurrent: must be an integer between 1 and 1000000, "
			 "got 0\n"
			 "t.json:2:31: limits.rpm: unknown key, expected one of enabled, default_max_concurrent, "
			 "max_subjects\n"
			 "t.json:3:33: server.reserved_threads: must be an integer between 0 and 1024, got -1\n");
	free(errors);
}
END_TEST

/* ---- Admission ---- */

static struct sg_conf conf;

static void
setup(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.workers = 2;
	conf.threads = 64;
	conf.reserved_threads = 4;
	conf.limits_enabled = true;
	conf.limits_max_subjects = 64;
	shm_reset();
	ck_assert_int_eq(limits_declare(&conf), SG_OK);
	ck_assert_int_eq(shm_map(), SG_OK);
	limits_start_caps(&conf);
}

static void
teardown(void)
{
	shm_reset();
}

static void
rule(struct limits_rule *r, const char *principal, const char *model, const char *key)
{
	*r = (struct limits_rule){(char *) principal, (char *) model, (char *) key, -1, -1, -1, -1, -1};
}

/* Puts in force one rule, alice's on every model and key, limited only in field (to v). */
#define ALICE_ONLY(field, v)                        \
	do {                                        \
		struct limits_rule alice_;          \
                                                    \
		rule(&alice_, "alice", NULL, NULL); \
		alice_.field = (v);                 \
		limits_apply_rules(&alice_, 1);     \
	} while (0)

static void
req_init(struct request *r, const char *principal, const char *key)
{
	memset(r, 0, sizeof(*r));
	r->conf = &conf;
	r->id.principal = principal ? sg_strdup(principal) : NULL;
	r->id.key_id = key ? sg_strdup(key) : NULL;
}

/* The value of response header name (a copy, valid until the next call), or NULL. */
static const char *
hdr(const struct request *r, const char *name)
{
	static char v[1024];
	size_t n = strlen(name);

	for (const char *l = r->headers.p; l != NULL && *l != '\0'; l = strstr(l, "\r\n") + 2) {
		if (strncmp(l, name, n) == 0 && l[n] == ':') {
			size_t vl = (size_t) (strstr(l, "\r\n") - (l + n + 2));

			ck_assert_uint_lt(vl, sizeof(v));
			memcpy(v, l + n + 2, vl);
			v[vl] = '\0';
			return v;
		}
	}
	return NULL;
}

/* r's x-ratelimit-limit-KIND and x-ratelimit-remaining-KIND headers are limit and remaining. */
static void
ck_ratelimit(const struct request *r, const char *kind, const char *limit, const char *remaining)
{
	char name[64];

	snprintf(name, sizeof(name), "x-ratelimit-limit-%s", kind);
	ck_assert_str_eq(hdr(r, name), limit);
	snprintf(name, sizeof(name), "x-ratelimit-remaining-%s", kind);
	ck_assert_str_eq(hdr(r, name), remaining);
}

/* Starts r as a request of principal (key) and admits it on model; the status. */
static sg_status
admit(struct request *r, const char *principal, const char *key, const char *model)
{
	req_init(r, principal, key);
	return limits_admit(r, model);
}

/* Finishes r with tokens used (charged where a tpm or budget applies) and frees it. */
static void
finish(struct request *r, int64_t tokens)
{
	r->inference.total_tokens = tokens;
	limits_finish(r);
	http_request_reset(r);
}

/* Admits and at once finishes a request of principal (key) on model; the status. */
static sg_status
one(const char *principal, const char *key, const char *model, int64_t tokens)
{
	struct request r;
	sg_status st = admit(&r, principal, key, model);

	finish(&r, tokens);
	return st;
}

/*
 * A thread that read the time just before a minute's end counts after another
 * thread began the next minute's word: the word must not turn back (that
 * would lose the new minute's count so far).
 */
START_TEST(a_late_count_never_turns_a_window_back)
{
	struct limits_entry *e;
	int64_t minute = limits_window(LIMITS_MINUTE, time(NULL));
	uint64_t w;

	ALICE_ONLY(rpm, 100);
	e = limits_entry_find(limits_host_area(), limits_subject_hash("alice", NULL, NULL), false);
	ck_assert_ptr_nonnull(e);
	/* The next minute already holds 5 (as if this thread's clock read were a moment old). */
	shm_store(&e->local[LC_REQ_MIN], limits_pack(minute + 1, 5));
	shm_store(&e->local[LC_TOK_MIN], limits_pack(minute + 1, 50));
	ck_assert_int_eq(one("alice", NULL, "m", 7), SG_OK);
	w = shm_load(&e->local[LC_REQ_MIN]);
	ck_assert_uint_ge(limits_count_in(w, minute + 1), 5);
	w = shm_load(&e->local[LC_TOK_MIN]);
	ck_assert_uint_ge(limits_count_in(w, minute + 1), 50);
	/* A fresh word (never written) is this window's, not a newer one. */
	shm_store(&e->local[LC_REQ_MIN], 0);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
	w = shm_load(&e->local[LC_REQ_MIN]);
	ck_assert_uint_eq(limits_count_in(w, minute) + limits_count_in(w, minute + 1), 1); /* (a minute may end) */
}
END_TEST

START_TEST(rpm_exact_with_headers)
{
	struct request r;

	ALICE_ONLY(rpm, 3);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_OK);
	ck_ratelimit(&r, "requests", "3", "2");
	ck_assert_ptr_nonnull(strstr(hdr(&r, "x-ratelimit-reset-requests"), "s"));
	ck_assert_ptr_null(hdr(&r, "x-ratelimit-limit-tokens")); /* no tpm applies */
	finish(&r, 0);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);

	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_str_eq(r.err.msg, "rate limit of 3 requests per minute reached for principal 'alice'");
	ck_assert_str_eq(hdr(&r, "x-ratelimit-remaining-requests"), "0");
	ck_assert_int_ge(atoi(hdr(&r, "Retry-After")), 1);
	ck_assert_int_le(atoi(hdr(&r, "Retry-After")), 60);
	finish(&r, 0);
	/* The rejected one took nothing: still rejected, still exactly 3 counted. */
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_uint_eq(
		limits_count_in(limits_entry_find(limits_host_area(), limits_subject_hash("alice", NULL, NULL), false)
					->local[LC_REQ_MIN],
				limits_window(LIMITS_MINUTE, time(NULL))),
		3);
	ck_assert_uint_eq(limits_rejected_total(LIMITS_R_RPM), 2);
	/* Someone else is not limited. */
	ck_assert_int_eq(one("bob", NULL, "m", 0), SG_OK);
	ck_assert_int_eq(one(NULL, NULL, "m", 0), SG_OK);
}
END_TEST

START_TEST(tokens_charged_at_end)
{
	struct request r;

	ALICE_ONLY(tpm, 100);
	/* Admitted while below: 60, then 60 more (120 > 100 charged), then no more. */
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_OK);
	ck_ratelimit(&r, "tokens", "100", "100");
	finish(&r, 60);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_OK);
	ck_assert_str_eq(hdr(&r, "x-ratelimit-remaining-tokens"), "40");
	finish(&r, 60);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_E_RATE_LIMIT_TOKENS);
	ck_assert_str_eq(r.err.msg, "rate limit of 100 tokens per minute reached for principal 'alice'");
	ck_assert_str_eq(hdr(&r, "x-ratelimit-remaining-tokens"), "0");
	ck_assert_ptr_nonnull(hdr(&r, "Retry-After"));
	http_request_reset(&r);
	ck_assert_uint_eq(limits_rejected_total(LIMITS_R_TPM), 1);
}
END_TEST

START_TEST(budgets_insufficient_quota)
{
	struct limits_rule rl[2];
	struct request r;

	rule(&rl[0], "alice", NULL, NULL);
	rl[0].tokens_per_day = 10;
	rule(&rl[1], "bob", NULL, NULL);
	rl[1].tokens_per_month = 10;
	limits_apply_rules(rl, 2);
	ck_assert_int_eq(one("alice", NULL, "m", 10), SG_OK);
	ck_assert_int_eq(one("bob", NULL, "m", 9), SG_OK);
	ck_assert_int_eq(one("bob", NULL, "m", 5), SG_OK);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_E_INSUFFICIENT_QUOTA);
	ck_assert_str_eq(r.err.msg, "budget of 10 tokens per day (UTC) spent for principal 'alice'");
	ck_assert_int_eq(atoll(hdr(&r, "Retry-After")), limits_seconds_left(LIMITS_DAY, time(NULL)));
	http_request_reset(&r);
	ck_assert_int_eq(admit(&r, "bob", NULL, "m"), SG_E_INSUFFICIENT_QUOTA);
	ck_assert_str_eq(r.err.msg, "budget of 10 tokens per month (UTC) spent for principal 'bob'");
	http_request_reset(&r);
}
END_TEST

START_TEST(narrowed_to_model_and_key)
{
	struct limits_rule rl[2];
	struct request r;

	rule(&rl[0], "alice", "m1", NULL);
	rl[0].rpm = 1;
	rule(&rl[1], "alice", NULL, "0123456789ab");
	rl[1].rpm = 2;
	limits_apply_rules(rl, 2);
	ck_assert_int_eq(one("alice", NULL, "m1", 0), SG_OK);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m1"), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_str_eq(r.err.msg, "rate limit of 1 requests per minute reached for principal 'alice' on model 'm1'");
	http_request_reset(&r);
	ck_assert_int_eq(one("alice", NULL, "m2", 0), SG_OK);
	ck_assert_int_eq(one("alice", NULL, "m2", 0), SG_OK);
	/* The key's rule: 2 requests with that key, whatever the model; other keys are free. */
	ck_assert_int_eq(one("alice", "0123456789ab", "m2", 0), SG_OK);
	ck_assert_int_eq(one("alice", "0123456789ab", "m3", 0), SG_OK);
	ck_assert_int_eq(admit(&r, "alice", "0123456789ab", "m3"), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_str_eq(r.err.msg,
			 "rate limit of 2 requests per minute reached for principal 'alice' with key "
			 "'0123456789ab'");
	http_request_reset(&r);
	ck_assert_int_eq(one("alice", "ffffffffffff", "m3", 0), SG_OK);
	/* Rows gone: nothing is limited any more. */
	limits_apply_rules(NULL, 0);
	ck_assert_int_eq(one("alice", NULL, "m1", 0), SG_OK);
	ck_assert_int_eq(one("alice", "0123456789ab", "m3", 0), SG_OK);
}
END_TEST

START_TEST(other_hosts_counts)
{
	struct limits_entry *e;
	int64_t win = limits_window(LIMITS_MINUTE, time(NULL));

	ALICE_ONLY(rpm, 5);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
	e = limits_entry_find(limits_host_area(), limits_subject_hash("alice", NULL, NULL), false);
	ck_assert_ptr_nonnull(e);
	/* A sync read that the other hosts made 3. */
	shm_store(&e->others[LC_REQ_MIN], limits_pack(win, 3));
	ck_assert_uint_eq(limits_effective(e, LC_REQ_MIN, win), 4);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_E_RATE_LIMIT_EXCEEDED);
	/* Counts of a past window count nothing. */
	shm_store(&e->others[LC_REQ_MIN], limits_pack(win - 1, 3));
	ck_assert_uint_eq(limits_effective(e, LC_REQ_MIN, win), 2);
}
END_TEST

/* A request held in flight on its own thread (the ticket is per thread). */
struct held {
	pthread_t t;
	sem_t admitted, go;
	const char *principal;
	sg_status st;
	struct request r;
};

static void *
hold_thread(void *arg)
{
	struct held *h = arg;

	req_init(&h->r, h->principal, NULL);
	h->st = limits_admit(&h->r, "m");
	sem_post(&h->admitted);
	sem_wait(&h->go);
	limits_finish(&h->r);
	http_request_reset(&h->r);
	return NULL;
}

static sg_status
hold(struct held *h, const char *principal)
{
	memset(h, 0, sizeof(*h));
	h->principal = principal;
	sem_init(&h->admitted, 0, 0);
	sem_init(&h->go, 0, 0);
	ck_assert_int_eq(pthread_create(&h->t, NULL, hold_thread, h), 0);
	sem_wait(&h->admitted);
	return h->st;
}

static void
unhold(struct held *h)
{
	sem_post(&h->go);
	pthread_join(h->t, NULL);
	sem_destroy(&h->admitted);
	sem_destroy(&h->go);
}

START_TEST(max_concurrent)
{
	struct held a, b;
	struct request r;

	ALICE_ONLY(max_concurrent, 2);
	ck_assert_int_eq(hold(&a, "alice"), SG_OK);
	ck_assert_int_eq(hold(&b, "alice"), SG_OK);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_str_eq(r.err.msg, "limit of 2 concurrent requests reached for principal 'alice'");
	ck_assert_str_eq(hdr(&r, "Retry-After"), "1");
	http_request_reset(&r);
	ck_assert_int_eq(one("bob", NULL, "m", 0), SG_OK);
	unhold(&a);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
	unhold(&b);
	ck_assert_uint_eq(limits_rejected_total(LIMITS_R_CONCURRENT), 1);
}
END_TEST

START_TEST(other_hosts_in_flight)
{
	struct limits_entry *e;
	struct held a;
	struct request r;

	ALICE_ONLY(max_concurrent, 2);
	e = limits_entry_find(limits_host_area(), limits_subject_hash("alice", NULL, NULL), false);
	ck_assert_ptr_nonnull(e);
	/* A sync read one of alice's requests in flight on another host. */
	shm_store(&e->others_inflight, 1);
	ck_assert_int_eq(hold(&a, "alice"), SG_OK);
	ck_assert_uint_eq(limits_inflight_host(e), 1);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_str_eq(r.err.msg, "limit of 2 concurrent requests reached for principal 'alice'");
	http_request_reset(&r);
	unhold(&a);
	ck_assert_uint_eq(limits_inflight_host(e), 0);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
	/* The default cap is this host's alone. */
	limits_apply_rules(NULL, 0);
	conf.limits_default_max_concurrent = 1;
	limits_start_caps(&conf);
	shm_store(&e->others_inflight, 5);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
}
END_TEST

START_TEST(default_cap_and_reserve)
{
	struct held a, b, c;
	struct request r;

	/* Half of 1 × 4 threads: 2 per principal; 4 - 1 reserved: 3 inference requests per worker. */
	conf.workers = 1;
	conf.threads = 4;
	conf.reserved_threads = 1;
	limits_start_caps(&conf);
	ck_assert_int_eq(hold(&a, "alice"), SG_OK);
	ck_assert_int_eq(hold(&b, "alice"), SG_OK);
	ck_assert_int_eq(admit(&r, "alice", NULL, "m"), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_str_eq(r.err.msg,
			 "limit of 2 concurrent requests (limits.default_max_concurrent) reached for "
			 "principal 'alice'");
	http_request_reset(&r);
	ck_assert_int_eq(hold(&c, "bob"), SG_OK);
	{
		struct limits_rule carol;

		rule(&carol, "carol", NULL, NULL);
		carol.rpm = 10;
		limits_apply_rules(&carol, 1);
	}
	ck_assert_int_eq(admit(&r, "carol", NULL, "m"), SG_E_RATE_LIMIT_EXCEEDED);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "limit of 3 inference requests in flight per worker"));
	ck_assert_str_eq(hdr(&r, "Retry-After"), "1");
	/* Every 429 has OpenAI's headers, this one too (carol's rpm: the reserve's refusal counts no request). */
	ck_assert_ptr_nonnull(hdr(&r, "x-ratelimit-limit-requests"));
	ck_assert_str_eq(hdr(&r, "x-ratelimit-limit-requests"), "10");
	ck_assert_str_eq(hdr(&r, "x-ratelimit-remaining-requests"), "10");
	http_request_reset(&r);
	limits_apply_rules(NULL, 0);
	ck_assert_uint_eq(limits_rejected_total(LIMITS_R_RESERVE), 1);
	unhold(&c);
	ck_assert_int_eq(one("carol", NULL, "m", 0), SG_OK);
	unhold(&a);
	unhold(&b);
	/* An explicit default. */
	conf.threads = 64;
	conf.limits_default_max_concurrent = 1;
	limits_start_caps(&conf);
	ck_assert_int_eq(hold(&a, "alice"), SG_OK);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_E_RATE_LIMIT_EXCEEDED);
	unhold(&a);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
}
END_TEST

START_TEST(killed_worker_releases)
{
	int slot = shm_slot_take(), fds[2];
	char c;
	pid_t pid;

	ALICE_ONLY(max_concurrent, 1);
	ck_assert_int_gt(slot, 0);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		struct request r;

		shm_slot_enter(slot);
		req_init(&r, "alice", NULL);
		c = limits_admit(&r, "m") == SG_OK ? 'y' : 'n';
		if (write(fds[1], &c, 1) != 1)
			_exit(1);
		pause(); /* in flight until killed */
		_exit(0);
	}
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_E_RATE_LIMIT_EXCEEDED);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	shm_slot_release(slot);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(off_counts_nothing)
{
	ALICE_ONLY(rpm, 0);
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_E_RATE_LIMIT_EXCEEDED); /* rpm 0: nothing admitted */
	conf.limits_enabled = false;
	ck_assert_int_eq(one("alice", NULL, "m", 0), SG_OK);
}
END_TEST

Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *w = tcase_create("windows"), *a = tcase_create("admission");

	tcase_add_test(w, windows_minute_day);
	tcase_add_test(w, windows_month_boundaries);
	tcase_add_test(w, window_words);
	tcase_add_test(w, config_keys);
	tcase_add_checked_fixture(a, setup, teardown);
	tcase_add_test(a, rpm_exact_with_headers);
	tcase_add_test(a, tokens_charged_at_end);
	tcase_add_test(a, budgets_insufficient_quota);
	tcase_add_test(a, narrowed_to_model_and_key);
	tcase_add_test(a, other_hosts_counts);
	tcase_add_test(a, max_concurrent);
	tcase_add_test(a, other_hosts_in_flight);
	tcase_add_test(a, default_cap_and_reserve);
	tcase_add_test(a, a_late_count_never_turns_a_window_back);
	tcase_add_test(a, killed_worker_releases);
	tcase_add_test(a, off_counts_nothing);
	suite_add_tcase(s, w);
	suite_add_tcase(s, a);
	return s;
}
