/* SPDX-License-Identifier: Apache-2.0 */
/* openai.c: placeholder until the openai module lands. */
#include "config.h"

#include "openai.h"

sg_status
openai_models(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
openai_completions(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
openai_chat_completions(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
openai_embeddings(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}
