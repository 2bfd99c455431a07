/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scoring_builtin.c: the data behind scoring_builtin.h.  The definitions are
 * those of the seed's modules in llama_stack/providers/inline/scoring/
 * <provider>/scoring_fn/fn_defs/ at 2b2db5fbda; each type's list and order is
 * what the provider's list_scoring_functions() returns: FIXED_FNS of
 * basic/scoring.py (each of its scoring fns holds one def), the registry of
 * LlmAsJudgeScoringFn (base, then 405b-simpleqa), and
 * SUPPORTED_BRAINTRUST_SCORING_FN_ENTRY of braintrust/braintrust.py.
 *
 * Every string equals the seed's Python value byte for byte.  The seed writes
 * its regexes as raw strings, so each of their backslashes is doubled here.
 * Non-ASCII text is plain UTF-8 except the invisible characters (U+200B) and
 * the Latin combining accents (U+0300..U+036F), which are written as \u
 * escapes so that the source shows what the bytes are: the seed spells some
 * Yoruba letters decomposed ("A" + U+0300, not the single U+00C0).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "scoring_builtin.h"
#include "sg.h"

/* MULTILINGUAL_ANSWER_REGEXES of regex_parser_multiple_choice_answer.py, in order (one is listed twice). */
static const char *const mc_answer_prefixes[] = {
	"The best answer is ",
	"Answer\\s*:",
	"Answer\\s*:\u200b\u200b\u200b\u200b\u200b\u200b",
	"উত্তর\\s*:",
	"उत्तर\\s*:",
	"উত্তরঃ",
	"উত্তর\\s*:",
	"Antwort\\s*:",
	"답변\\s*:",
	"정답\\s*:",
	"답\\s*:",
	"答案\\s*：",
	"答案\\s*:",
	"答\\s*：",
	"答\\s*:",
	"答复\\s*：",
	"答曰\\s*：",
	"الإجابة:",
	"الجواب:",
	"إجابة:",
	"الإجابة النهائية:",
	"الإجابة الصحيحة:",
	"الإجابة الصحيحة هي:",
	"الإجابة هي:",
	"Respuesta\\s*:",
	"Risposta\\s*:",
	"答え\\s*:",
	"答え\\s*：",
	"回答\\s*:",
	"回答\\s*：",
	"解答\\s*:",
	"Jawaban\\s*:",
	"Réponse\\s*:",
	"Resposta\\s*:",
	"Jibu\\s*:",
	"Idahun\\s*:",
	"Ìdáhùn\\s*:",
	"Idáhùn\\s*:",
	"A\u0300mọ\u0300na\u0300\\s*:",
	"Àdáhùn\\s*:",
	"A\u0300nu\u0301go\u0323\\s*:",
	"Àṣàyàn\\s*:",
	NULL,
};

/*
 * MULTILINGUAL_ANSWER_PATTERN_TEMPLATE, "(?i){}\s*([A-D]|…)", with the "{}"
 * that the seed fills with each prefix written as %s.
 */
#define MC_ANSWER_PATTERN "(?i)%s\\s*([A-D]|[أ-د]|[অ]|[ব]|[ড]|[ঢ]|[Ａ]|[Ｂ]|[Ｃ]|[Ｄ])"

/* MATH_ANSWER_REGEXES of regex_parser_math_response.py. */
static const char *const math_answer_regexes[] = {".*final answer is:?\\s*\\$\\\\boxed{(?P<X>.*)}\\$", NULL};

/* judge_score_regexes of llm_as_judge_405b_simpleqa.py. */
static const char *const simpleqa_score_regexes[] = {"(A|B|C)", NULL};

/* GRADER_TEMPLATE of llm_as_judge_405b_simpleqa.py, after its .strip(). */
static const char simpleqa_template[] =
	"Your job is to look at a question, a gold target, and a predicted answer, and then assign a grade of "
	"either [\"CORRECT\", \"INCORRECT\", \"NOT_ATTEMPTED\"].\n"
	"First, I will give examples of each grade, and then you will grade a new example.\n"
	"The following are examples of CORRECT predicted answers.\n"
	"```\n"
	"Question: What are the names of Barack Obama's children?\n"
	"Gold target: Malia Obama and Sasha Obama\n"
	"Predicted answer 1: sasha and malia obama\n"
	"Predicted answer 2: most people would say Malia and Sasha, but I'm not sure and would have to double "
	"check\n"
	"Predicted answer 3: Barack Obama has two daughters. Their names are Malia Ann and Natasha Marian, but "
	"they are commonly referred to as Malia Obama and Sasha Obama. Malia was born on July 4, 1998, and "
	"Sasha was born on June 10, 2001.\n"
	"```\n"
	"These predicted answers are all CORRECT because:\n"
	"    - They fully contain the important information in the gold target.\n"
	"    - They do not contain any information that contradicts the gold target.\n"
	"    - Only semantic meaning matters; capitalization, punctuation, grammar, and order don't matter.\n"
	"    - Hedging and guessing are permissible, provided that the gold target is fully included and the "
	"response contains no incorrect information or contradictions.\n"
	"The following are examples of INCORRECT predicted answers.\n"
	"```\n"
	"Question: What are the names of Barack Obama's children?\n"
	"Gold target: Malia and Sasha\n"
	"Predicted answer 1: Malia.\n"
	"Predicted answer 2: Malia, Sasha, and Susan.\n"
	"Predicted answer 3: Barack Obama does not have any children.\n"
	"Predicted answer 4: I think it's either Malia and Sasha. Or it could be Malia and Jackie. Or it could "
	"be Joey and Malia.\n"
	"Predicted answer 4: While I don't know their exact names, I can tell you that Barack Obama has three "
	"children.\n"
	"Predicted answer 5: It's possible you may mean Betsy and Olivia. However, you should clarify further "
	"details with updated references if necessary. Is that the correct answer?\n"
	"Predicted answer 6: It may be the case that Obama's child is named James. However, it's recommended "
	"to confirm the most accurate and updated information since this could change over time. This model "
	"may not always reflect the most current information.\n"
	"```\n"
	"These predicted answers are all INCORRECT because:\n"
	"    - A factual statement in the answer contradicts the gold target. Incorrect statements that have "
	"some hedging (e.g., \"it is possible that\", \"although i'm not sure, i think\") are also considered "
	"incorrect.\n"
	"The following are examples of NOT_ATTEMPTED predicted answers.\n"
	"```\n"
	"Question: What are the names of Barack Obama's children?\n"
	"Gold target: Malia and Sasha\n"
	"Predicted answer 1: I don't know.\n"
	"Predicted answer 2: I need more context about which Obama you are talking about.\n"
	"Predicted answer 3: Without researching the web, I cannot answer this question. However, I can tell "
	"you that Barack Obama has two children.\n"
	"Predicted answer 4: Barack Obama has two children. I know that one of them is Malia, but I'm not sure "
	"about the other one.\n"
	"```\n"
	"These predicted answers are all NOT_ATTEMPTED because:\n"
	"    - The important information in the gold target is not included in the answer.\n"
	"    - No statements in the answer contradict the gold target.\n"
	"Also note the following things:\n"
	"- For grading questions where the gold target is a number, the predicted answer needs to be correct "
	"to the last significant figure in the gold answer. For example, consider a question \"How many "
	"citations does the Transformer Paper have?\" with gold target \"120k\".\n"
	"    - Predicted answers \"120k\", \"124k\", and 115k\" are all CORRECT.\n"
	"    - Predicted answers \"100k\" and \"113k\" are INCORRECT.\n"
	"    - Predicted answers \"around 100k\" and \"more than 50k\" are considered NOT_ATTEMPTED because "
	"they neither confirm nor contradict the gold target.\n"
	"- The gold target may contain more information than the question. In such cases, the predicted answer "
	"only needs to contain the information that is in the question.\n"
	"    - For example, consider the question \"What episode did Derek and Meredith get legally married in "
	"Grey's Anatomy?\" with gold target \"Season 7, Episode 20: White Wedding\". Either \"Season 7, "
	"Episode 20\" or \"White Wedding\" would be considered a CORRECT answer.\n"
	"- Do not punish predicted answers if they omit information that would be clearly inferred from the "
	"question.\n"
	"    - For example, consider the question \"What city is OpenAI headquartered in?\" and the gold "
	"target \"San Francisco, California\". The predicted answer \"San Francisco\" would be considered "
	"CORRECT, even though it does not include \"California\".\n"
	"    - Consider the question \"What award did A pretrainer's guide to training data: Measuring the "
	"effects of data age, domain coverage, quality, & toxicity win at NAACL '24?\", the gold target is "
	"\"Outstanding Paper Award\". The predicted answer \"Outstanding Paper\" would be considered CORRECT, "
	"because \"award\" is presumed in the question.\n"
	"    - For the question \"What is the height of Jason Wei in meters?\", the gold target is \"1.73 m\". "
	"The predicted answer \"1.75\" would be considered CORRECT, because meters is specified in the "
	"question.\n"
	"    - For the question \"What is the name of Barack Obama's wife?\", the gold target is \"Michelle "
	"Obama\". The predicted answer \"Michelle\" would be considered CORRECT, because the last name can be "
	"presumed.\n"
	"- Do not punish for typos in people's name if it's clearly the same name.\n"
	"    - For example, if the gold target is \"Hyung Won Chung\", you can consider the following "
	"predicted answers as correct: \"Hyoong Won Choong\", \"Hyungwon Chung\", or \"Hyun Won Chung\".\n"
	"Here is a new example. Simply reply with either CORRECT, INCORRECT, NOT ATTEMPTED. Don't apologize or "
	"correct yourself if there was a mistake; we are just trying to grade the answer.\n"
	"```\n"
	"Question: {input_query}\n"
	"Gold target: {expected_answer}\n"
	"Predicted answer: {generated_answer}\n"
	"```\n"
	"Grade the predicted answer of this new question as one of:\n"
	"A: CORRECT\n"
	"B: INCORRECT\n"
	"C: NOT_ATTEMPTED\n"
	"Just return the letters \"A\", \"B\", or \"C\", with no text around it.";

#define JUDGE_MODEL "meta-llama/Llama-3.1-405B-Instruct"
#define BRAINTRUST_SEE "See: github.com/braintrustdata/autoevals"
/* A braintrust scorer: named name (identifier "braintrust::<name>"), basic params, averaged. */
#define BRAINTRUST(name, description)                                                                                \
	{                                                                                                            \
		"inline::braintrust", "braintrust::" name, description, name, "basic", "average", NULL, false, NULL, \
			NULL                                                                                         \
	}

/* One ScoringFn of the seed.  Every built-in one returns NumberType. */
static const struct builtin_fn {
	const char *provider_type;
	const char *identifier;
	const char *description;
	const char *provider_resource_id;
	const char *params_type;    /* "basic", "regex_parser" or "llm_as_judge" */
	const char *aggregation;    /* its one aggregation function; NULL: none */
	const char *const *regexes; /* parsing_regexes / judge_score_regexes; NULL: none */
	bool mc_pattern;            /* regexes are prefixes to put into MC_ANSWER_PATTERN */
	const char *judge_model;    /* llm_as_judge */
	const char *prompt_template;
} builtin_fns[] = {
	{"inline::basic", "basic::equality", "Returns 1.0 if the input is equal to the target, 0.0 otherwise.",
	 "equality", "basic", "accuracy", NULL, false, NULL, NULL},
	{"inline::basic", "basic::subset_of", "Returns 1.0 if the expected is included in generated, 0.0 otherwise.",
	 "subset-of", "basic", "accuracy", NULL, false, NULL, NULL},
	{"inline::basic", "basic::regex_parser_multiple_choice_answer",
	 "Extract answer from response matching Answer: [the_answer_letter], and compare with expected result",
	 "regex-parser-multiple-choice-answer", "regex_parser", "accuracy", mc_answer_prefixes, true, NULL, NULL},
	{"inline::basic", "basic::regex_parser_math_response",
	 "For math related benchmarks, extract answer from the generated response and expected_answer and see if "
	 "they match",
	 "regex-parser-math-response", "regex_parser", "accuracy", math_answer_regexes, false, NULL, NULL},
	{"inline::basic", "basic::bfcl", "BFCL complex scoring", "bfcl", "basic", "accuracy", NULL, false, NULL, NULL},
	{"inline::basic", "basic::ifeval",
	 "Eval intruction follow capacity by checkping how many instructions can be followed in each example", "ifeval",
	 "basic", "weighted_average", NULL, false, NULL, NULL},
	{"inline::basic", "basic::docvqa", "DocVQA Visual Question & Answer scoring function", "docvqa", "basic",
	 "accuracy", NULL, false, NULL, NULL},

	{"inline::llm-as-judge", "llm-as-judge::base", "Llm As Judge Scoring Function", "llm-as-judge-base",
	 "llm_as_judge", NULL, NULL, false, JUDGE_MODEL, "Enter custom LLM as Judge Prompt Template"},
	{"inline::llm-as-judge", "llm-as-judge::405b-simpleqa",
	 "Llm As Judge Scoring Function for SimpleQA Benchmark "
	 "(https://github.com/openai/simple-evals/blob/main/simpleqa_eval.py)",
	 "llm-as-judge-405b-simpleqa", "llm_as_judge", "categorical_count", simpleqa_score_regexes, false, JUDGE_MODEL,
	 simpleqa_template},

	BRAINTRUST("factuality",
		   "Test output factuality against expected value using Braintrust LLM scorer. " BRAINTRUST_SEE),
	BRAINTRUST("answer-correctness",
		   "Scores the correctness of the answer based on the ground truth. "
		   "Uses Braintrust LLM-based scorer from autoevals library."),
	BRAINTRUST("answer-relevancy",
		   "Test output relevancy against the input query using Braintrust LLM scorer. " BRAINTRUST_SEE),
	BRAINTRUST("answer-similarity",
		   "Test output similarity against expected value using Braintrust LLM scorer. " BRAINTRUST_SEE),
	BRAINTRUST("faithfulness",
		   "Test output faithfulness to the input query using Braintrust LLM scorer. " BRAINTRUST_SEE),
	BRAINTRUST(
		"context-entity-recall",
		"Evaluates how well the context captures the named entities present in the reference answer. " BRAINTRUST_SEE),
	BRAINTRUST(
		"context-precision",
		"Measures how much of the provided context is actually relevant to answering the question. " BRAINTRUST_SEE),
	BRAINTRUST(
		"context-recall",
		"Evaluates how well the context covers the information needed to answer the question. " BRAINTRUST_SEE),
	BRAINTRUST("context-relevancy",
		   "Assesses how relevant the provided context is to the given question. " BRAINTRUST_SEE),
};

/* f's regexes as a new JSON array ([] when it has none); NULL when out of memory. */
static json_t *
regex_list(const struct builtin_fn *f)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && f->regexes != NULL && f->regexes[i] != NULL; i++) {
		char *re = f->mc_pattern ? sg_asprintf(MC_ANSWER_PATTERN, f->regexes[i]) : NULL;
		const char *s = f->mc_pattern ? re : f->regexes[i];

		if (s == NULL || json_array_append_new(a, json_string(s)) != 0) {
			json_decref(a);
			a = NULL;
		}
		free(re);
	}
	return a;
}

/* f's ScoringFnParams with every field pydantic dumps, in its field order; NULL when out of memory. */
static json_t *
params_of(const struct builtin_fn *f)
{
	json_t *aggs = f->aggregation ? json_pack("[s]", f->aggregation) : json_array();

	/* "o" steals aggs and the regex list, also when json_pack fails. */
	if (strcmp(f->params_type, "llm_as_judge") == 0)
		return json_pack("{s:s, s:s, s:s?, s:o, s:o}", "type", f->params_type, "judge_model", f->judge_model,
				 "prompt_template", f->prompt_template, "judge_score_regexes", regex_list(f),
				 "aggregation_functions", aggs);
	if (strcmp(f->params_type, "regex_parser") == 0)
		return json_pack("{s:s, s:o, s:o}", "type", f->params_type, "parsing_regexes", regex_list(f),
				 "aggregation_functions", aggs);
	return json_pack("{s:s, s:o}", "type", f->params_type, "aggregation_functions", aggs);
}

json_t *
scoring_builtin_defs(const char *provider_type, const char *provider_id)
{
	json_t *defs = json_array();

	for (size_t i = 0; defs != NULL && provider_type != NULL && i < SG_ARRAY_LEN(builtin_fns); i++) {
		const struct builtin_fn *f = &builtin_fns[i];
		json_t *def;

		if (strcmp(provider_type, f->provider_type) != 0)
			continue;
		def = json_pack("{s:s, s:s, s:{s:s}, s:s, s:s*, s:o, s:{}}", "scoring_fn_id", f->identifier,
				"description", f->description, "return_type", "type", "number",
				"provider_scoring_fn_id", f->provider_resource_id, "provider_id", provider_id, "params",
				params_of(f), "metadata");
		if (def == NULL || json_array_append_new(defs, def) != 0) {
			json_decref(defs);
			defs = NULL;
		}
	}
	return defs;
}

bool
scoring_builtin_known(const char *provider_type)
{
	for (size_t i = 0; provider_type != NULL && i < SG_ARRAY_LEN(builtin_fns); i++)
		if (strcmp(provider_type, builtin_fns[i].provider_type) == 0)
			return true;
	return false;
}
