/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scoring_builtin.h: the built-in scoring functions of Llama Stack's scoring
 * provider types, as data.  At start Llama Stack (2b2db5fbda) asks every
 * configured scoring provider for list_scoring_functions() and registers what
 * it returns under that provider's id, so GET /v1/scoring-functions lists
 * basic::equality and the rest without anyone registering them.  This module
 * holds those lists; the caller registers them.  Pure: no I/O, no state.
 *
 * Known provider types and the functions each returns, in the seed's order:
 *   inline::basic         basic::equality, basic::subset_of,
 *                         basic::regex_parser_multiple_choice_answer,
 *                         basic::regex_parser_math_response, basic::bfcl,
 *                         basic::ifeval, basic::docvqa
 *   inline::llm-as-judge  llm-as-judge::base, llm-as-judge::405b-simpleqa
 *   inline::braintrust    braintrust::factuality, braintrust::answer-correctness,
 *                         braintrust::answer-relevancy, braintrust::answer-similarity,
 *                         braintrust::faithfulness, braintrust::context-entity-recall,
 *                         braintrust::context-precision, braintrust::context-recall,
 *                         braintrust::context-relevancy
 */
#ifndef SG_SCORING_BUILTIN_H
#define SG_SCORING_BUILTIN_H

#include <jansson.h>
#include <stdbool.h>

/*
 * The built-in scoring functions of provider_type as a new JSON array of
 * register bodies, the keys POST /v1/scoring-functions takes: scoring_fn_id,
 * description, return_type, provider_scoring_fn_id, provider_id, params (with
 * every field and default the seed's pydantic model dumps) and metadata ({}).
 * Each can go to resources_register_object() as it is.  provider_id is the
 * configured provider's id (the seed's definitions name the default one, but
 * registration stores the configured one); NULL leaves the key out.  An empty
 * array for a type not listed above (or NULL); NULL only when out of memory.
 * The caller owns the array.
 */
json_t *scoring_builtin_defs(const char *provider_type, const char *provider_id);

/* True when provider_type is one of the types listed above; for any other its list is unknown, not empty. */
bool scoring_builtin_known(const char *provider_type);

#endif
