/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai.h: the handlers of /v1/openai/v1/ (models, completions,
 * chat/completions and embeddings), resolved through the registry with the
 * access check and proxied to the provider (proxy.h).  Errors use OpenAI's
 * shape.  No sockets here.
 */
#ifndef SG_OPENAI_H
#define SG_OPENAI_H

#include "http.h"

sg_status openai_models(struct request *r);
sg_status openai_completions(struct request *r);
sg_status openai_chat_completions(struct request *r);
sg_status openai_embeddings(struct request *r);

#endif
