// SPDX-License-Identifier: Apache-2.0
//
// ai-sdk.test.mjs: another OpenAI-compatible client, the Vercel AI SDK (ai
// 7.0.173 with @ai-sdk/openai-compatible 3.0.92), against stackgate's root
// inference routes (/v1: chat/completions, completions, embeddings), the way
// an app points it at any OpenAI-compatible server: generateText,
// streamText (SSE, usage included), a completion model, embed and embedMany,
// and the error it raises for an unknown model.  Models (prefix aic-) are
// registered through the Llama Stack API first.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, embed, embedMany, generateText, streamText } from 'ai';

import { textParts } from './streams.mjs';

const SG_URL = process.env.SG_URL || 'http://127.0.0.1:18321';
const stackgate = createOpenAICompatible({ name: 'stackgate', baseURL: `${SG_URL}/v1`, includeUsage: true });

before(async () => {
	for (const m of [
		{ model_id: 'aic-llm', provider_id: 'vllm', provider_model_id: 'test-llm' },
		{ model_id: 'aic-embed', provider_id: 'vllm', provider_model_id: 'test-embed', model_type: 'embedding',
			metadata: { embedding_dimension: 8 } },
	]) {
		await fetch(`${SG_URL}/v1/models/${m.model_id}`, { method: 'DELETE' });
		const res = await fetch(`${SG_URL}/v1/models`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify(m) });
		assert.equal(res.status, 200, `registering ${m.model_id}: ${res.status} ${await res.text()}`);
	}
});

describe('Vercel AI SDK (openai-compatible provider)', () => {
	test('generateText with a chat model', async () => {
		const r = await generateText({ model: stackgate.chatModel('aic-llm'), prompt: 'hello from the ai sdk', maxRetries: 0 });
		assert.equal(r.text, 'echo: hello from the ai sdk');
		assert.equal(r.finishReason, 'stop');
	});

	test('streamText with a chat model', async () => {
		const r = streamText({ model: stackgate.chatModel('aic-llm'), prompt: 'stream these words', maxRetries: 0 });
		const { text, parts } = await textParts(r.textStream);
		assert.equal(text, 'echo: stream these words');
		assert.ok(parts >= 3, `only ${parts} text parts`);
		assert.equal(await r.finishReason, 'stop');
	});

	test('generateText and streamText with a completion model', async () => {
		// The SDK turns a prompt into "user:\n<prompt>\n\nassistant:\n" for a completion model; the upstream echoes it.
		const r = await generateText({ model: stackgate.completionModel('aic-llm'), prompt: 'complete me', maxRetries: 0 });
		assert.match(r.text, /^echo: [\s\S]*complete me/);
		const s = streamText({ model: stackgate.completionModel('aic-llm'), prompt: 'and stream', maxRetries: 0 });
		const { text, parts } = await textParts(s.textStream);
		assert.match(text, /^echo: [\s\S]*and stream/);
		assert.ok(parts >= 3, `only ${parts} text parts`);
	});

	test('embed and embedMany', async () => {
		const one = await embed({ model: stackgate.embeddingModel('aic-embed'), value: 'sunny day', maxRetries: 0 });
		assert.equal(one.embedding.length, 8);
		const many = await embedMany({ model: stackgate.embeddingModel('aic-embed'), values: ['a', 'b', 'c'], maxRetries: 0 });
		assert.equal(many.embeddings.length, 3);
		assert.ok(many.embeddings.every((e) => e.length === 8));
	});

	test('an unknown model is an APICallError with status 404', async () => {
		await assert.rejects(generateText({ model: stackgate.chatModel('aic-nope'), prompt: 'x', maxRetries: 0 }), (e) => {
			assert.ok(APICallError.isInstance(e), `got ${e?.constructor?.name}: ${e?.message}`);
			assert.equal(e.statusCode, 404);
			assert.match(e.message, /model 'aic-nope' not found/);
			return true;
		});
	});
});
