/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_int.h: the metrics area's layout, shared by metrics.c (recording,
 * reading) and metrics_expo.c (rendering) and the unit tests.  Not for other
 * modules: they call metrics.h.
 */
#ifndef SG_METRICS_INT_H
#define SG_METRICS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct route;

#define NMETHODS 8               /* the bits of enum sg_method */
#define NSTATUS (43 + 5)         /* exact codes, then 1xx..5xx */
#define HW (METRICS_NBOUNDS + 2) /* a histogram: buckets, +Inf, sum (us) */
#define NERRKINDS 5
/* One model label's words: upstream and TTFT histograms, prompt and completion tokens, errors by kind. */
#define M_UPSTREAM 0
#define M_TTFT HW
#define M_TOKENS (2 * HW)
#define M_ERRORS (2 * HW + 2)
#define MW (2 * HW + 2 + NERRKINDS)
/* The worker block's first gauges. */
#define G_THREADS 0
#define G_STREAMS 1
#define G_INFLIGHT 2
/* The last counters. */
#define MISC_CACHE_HITS 0
#define MISC_CACHE_MISSES 1
#define MISC_DB_ERRORS 2
#define NMISC 3

extern const char *const metrics_error_kinds[NERRKINDS];

/* One (provider, model) label pair; state 0 free, 1 being written, 2 ready. */
struct metrics_label {
	uint64_t state;
	char provider[128];
	char model[256];
};

/* Word offsets in a block (metrics.c's header comment), set by metrics_declare. */
struct metrics_layout {
	bool declared;
	const struct route *routes;
	size_t nroutes, nrows, nmodels;
	size_t inflight, counters, requests, duration, models, misc, words;
	size_t labels_off; /* bytes into the host block */
};
extern struct metrics_layout metrics_layout;

struct metrics_snapshot {
	uint64_t *w; /* metrics_layout.words sums */
	uint64_t restarts;
	struct metrics_label *labels; /* nmodels + 1 ("other"); state 2 where used */
};

/* The status label of index i ("404", "4xx"); buf holds it when it is a code. */
const char *metrics_status_label(size_t i, char *buf, size_t len);
/* The model label index for (provider, model), claiming a free entry; nmodels ("other") when full. */
size_t metrics_model_index(const char *provider, const char *model);
/* The host block, slot's worker block, the label table; NULL when not declared or mapped. */
uint64_t *metrics_host_words(void);
uint64_t *metrics_worker_words(int slot);
struct metrics_label *metrics_labels(void);

#endif
