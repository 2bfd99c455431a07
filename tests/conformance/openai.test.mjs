// SPDX-License-Identifier: Apache-2.0
//
// openai.test.mjs: the official openai SDK (7.59.0) against stackgate's
// /v1/openai/v1 and the root routes of today's Llama Stack (/v1: chat,
// completions, embeddings), with the test upstream (tests/upstream/server.js)
// behind it.
// Registers its own models (prefix oac-) through the Llama Stack API first.
// maxRetries is 0 so a 5xx is seen once and the error classes are checked as
// the SDK maps them (≥500 → InternalServerError).
//
// The SDK always sends "Authorization: Bearer <apiKey>", and stackgate's auth
// endpoint refuses keys it does not know, so the client uses a real key for a
// principal made with `stackgate principal add` / `key create` (SG_BIN and
// STACKGATE_DATABASE_URL come from the integration runner).  Without SG_BIN
// it sends no Authorization header at all (anonymous).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { chatText, completionText } from './streams.mjs';

const SG_URL = process.env.SG_URL || 'http://127.0.0.1:18321';
let client;
let root; // the same SDK with baseURL /v1: the routes of Llama Stack 0.3 and later

function makeKey() {
	const bin = process.env.SG_BIN;
	if (!bin || !process.env.STACKGATE_DATABASE_URL) return null;
	try {
		execFileSync(bin, ['principal', 'add', 'oac-sdk-user', '--team', 'oac-sdk'], { stdio: 'ignore' });
	} catch {
		// Already there from an earlier run: a new key is all we need.
	}
	return execFileSync(bin, ['key', 'create', 'oac-sdk-user', '--description', 'openai conformance'],
		{ encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

const MODELS = [
	{ model_id: 'oac-llm', provider_id: 'vllm', provider_model_id: 'test-llm' },
	{ model_id: 'oac-embed', provider_id: 'vllm', provider_model_id: 'test-embed', model_type: 'embedding',
		metadata: { embedding_dimension: 8 } },
	{ model_id: 'oac-dead', provider_id: 'dead', provider_model_id: 'test-llm' },
	{ model_id: 'oac-hang', provider_id: 'vllm-short', provider_model_id: 'hang' },
	{ model_id: 'oac-cut', provider_id: 'vllm', provider_model_id: 'cut' },
	{ model_id: 'oac-e400', provider_id: 'vllm', provider_model_id: 'err-400' },
];

before(async () => {
	const key = makeKey();
	client = new OpenAI({ baseURL: `${SG_URL}/v1/openai/v1`, apiKey: key ?? 'anonymous', maxRetries: 0,
		timeout: 30000, defaultHeaders: key ? {} : { Authorization: null } });
	root = new OpenAI({ baseURL: `${SG_URL}/v1`, apiKey: key ?? 'anonymous', maxRetries: 0,
		timeout: 30000, defaultHeaders: key ? {} : { Authorization: null } });
	for (const m of MODELS) {
		const res = await fetch(`${SG_URL}/v1/models`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify(m) });
		assert.equal(res.status, 200, `registering ${m.model_id}: ${res.status} ${await res.text()}`);
	}
});

describe('openai SDK: models', () => {
	test('models.list returns the registered models in OpenAI shape', async () => {
		const ids = [];
		for await (const m of client.models.list()) {
			ids.push(m.id);
			if (m.id === 'oac-llm') {
				assert.equal(m.object, 'model');
				assert.equal(m.owned_by, 'vllm');
				assert.equal(typeof m.created, 'number');
			}
		}
		assert.ok(ids.includes('oac-llm'), `oac-llm missing from ${ids.join(', ')}`);
		assert.ok(ids.includes('oac-embed'));
	});
});

describe('openai SDK: models.retrieve', () => {
	test('a registered model in OpenAI shape', async () => {
		const m = await client.models.retrieve('oac-llm');
		assert.deepEqual(Object.keys(m).sort(), ['created', 'id', 'object', 'owned_by']);
		assert.equal(m.id, 'oac-llm');
		assert.equal(m.object, 'model');
		assert.equal(m.owned_by, 'vllm');
	});

	test('a missing model is NotFoundError in OpenAI error shape', async () => {
		await assert.rejects(client.models.retrieve('oac-nope'), (err) => {
			assert.ok(err instanceof OpenAI.NotFoundError, `got ${err.constructor.name}`);
			assert.equal(err.status, 404);
			assert.equal(err.param, 'model');
			assert.match(err.message, /The model 'oac-nope' does not exist/);
			return true;
		});
	});
});

describe('openai SDK at the root routes (/v1)', () => {
	test('chat.completions.create, with and without stream', async () => {
		const c = await root.chat.completions.create({ model: 'oac-llm', messages: [{ role: 'user', content: 'at the root' }] });
		assert.equal(c.choices[0].message.content, 'echo: at the root');
		const stream = await root.chat.completions.create({ model: 'oac-llm', stream: true,
			messages: [{ role: 'user', content: 'streamed at the root' }] });
		assert.equal(await chatText(stream), 'echo: streamed at the root');
	});

	test('completions.create with stream', async () => {
		const stream = await root.completions.create({ model: 'oac-llm', prompt: 'root prompt', stream: true });
		assert.equal(await completionText(stream), 'echo: root prompt');
	});

	test('embeddings.create', async () => {
		const e = await root.embeddings.create({ model: 'oac-embed', input: ['x', 'y', 'z'] });
		assert.equal(e.data.length, 3);
		assert.equal(e.data[2].embedding.length, 8);
	});

	test('models.list and models.retrieve', async () => {
		const ids = [];
		for await (const m of root.models.list()) ids.push(m.id);
		assert.ok(ids.includes('oac-llm'));
		const m = await root.models.retrieve('oac-llm');
		assert.equal(m.id, 'oac-llm');
		assert.equal(m.owned_by, 'vllm');
	});
});

describe('openai SDK: completions', () => {
	test('completions.create', async () => {
		const c = await client.completions.create({ model: 'oac-llm', prompt: 'Roses are red', max_tokens: 10 });
		assert.equal(c.model, 'oac-llm');
		assert.equal(c.object, 'text_completion');
		assert.equal(c.choices[0].text, 'echo: Roses are red');
	});

	test('completions.create with stream', async () => {
		const stream = await client.completions.create({ model: 'oac-llm', prompt: 'violets are blue', stream: true });
		let text = '';
		let n = 0;
		for await (const chunk of stream) {
			assert.equal(chunk.model, 'oac-llm');
			text += chunk.choices[0]?.text ?? '';
			n++;
		}
		assert.ok(n >= 3, `only ${n} chunks`);
		assert.equal(text, 'echo: violets are blue');
	});

	test('vLLM extras pass through (prompt_logprobs, guided_choice)', async () => {
		const c = await client.completions.create({ model: 'oac-llm', prompt: 'I am sad', prompt_logprobs: 1,
			guided_choice: ['joy', 'sadness'] });
		assert.ok(['joy', 'sadness'].includes(c.choices[0].text));
		assert.ok(c.choices[0].prompt_logprobs.length > 0);
	});
});

describe('openai SDK: chat completions', () => {
	test('chat.completions.create', async () => {
		const c = await client.chat.completions.create({ model: 'oac-llm',
			messages: [{ role: 'user', content: 'Which planet do humans live on?' }] });
		assert.equal(c.model, 'oac-llm');
		assert.equal(c.object, 'chat.completion');
		assert.equal(c.choices[0].message.role, 'assistant');
		assert.equal(c.choices[0].message.content, 'echo: Which planet do humans live on?');
	});

	test('chat.completions.create with stream', async () => {
		const stream = await client.chat.completions.create({ model: 'oac-llm', stream: true,
			messages: [{ role: 'user', content: 'the name of the Sun in latin' }] });
		let text = '';
		let finish = null;
		for await (const chunk of stream) {
			assert.equal(chunk.model, 'oac-llm');
			assert.equal(chunk.object, 'chat.completion.chunk');
			text += chunk.choices[0]?.delta?.content ?? '';
			finish = chunk.choices[0]?.finish_reason ?? finish;
		}
		assert.equal(text, 'echo: the name of the Sun in latin');
		assert.equal(finish, 'stop');
	});

	test('tools, image parts and assistant tool_calls with content null are accepted', async () => {
		const c = await client.chat.completions.create({
			model: 'oac-llm',
			messages: [
				{ role: 'user', content: [{ type: 'text', text: 'look' },
					{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
				{ role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function',
					function: { name: 'lookup', arguments: '{}' } }] },
				{ role: 'tool', tool_call_id: 'call_0', content: '42' },
				{ role: 'user', content: 'now call it' },
			],
			tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }],
			tool_choice: 'required',
			response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object' } } },
		});
		assert.equal(c.choices[0].finish_reason, 'tool_calls');
		assert.equal(c.choices[0].message.tool_calls[0].function.name, 'lookup');
	});

	test('an error after the stream started is raised by the SDK', async () => {
		const stream = await client.chat.completions.create({ model: 'oac-cut', stream: true,
			messages: [{ role: 'user', content: 'a b c d' }] });
		let chunks = 0;
		await assert.rejects(async () => {
			for await (const chunk of stream) {
				assert.equal(chunk.model, 'oac-cut');
				chunks++;
			}
		}, (err) => err instanceof OpenAI.APIError && /closed the connection/.test(err.message));
		assert.ok(chunks >= 1, 'the chunks before the cut arrived');
	});
});

describe('openai SDK: embeddings', () => {
	test('embeddings.create (the SDK default, base64)', async () => {
		const e = await client.embeddings.create({ model: 'oac-embed', input: ['hello', 'world'] });
		assert.equal(e.model, 'oac-embed');
		assert.equal(e.data.length, 2);
		assert.equal(e.data[0].embedding.length, 8);
		assert.ok(e.data[0].embedding.every((x) => typeof x === 'number' && x >= -1 && x <= 1));
	});

	test('embeddings.create with encoding_format float', async () => {
		const e = await client.embeddings.create({ model: 'oac-embed', input: 'hello', encoding_format: 'float' });
		assert.equal(e.data.length, 1);
		assert.equal(e.data[0].embedding.length, 8);
	});
});

describe('openai SDK: errors', () => {
	test('an unknown model is NotFoundError (404)', async () => {
		await assert.rejects(client.chat.completions.create({ model: 'oac-nope',
			messages: [{ role: 'user', content: 'x' }] }), (err) => {
			assert.ok(err instanceof OpenAI.NotFoundError, `got ${err.constructor.name}`);
			assert.equal(err.status, 404);
			assert.match(err.message, /model 'oac-nope' not found/);
			return true;
		});
	});

	test('an embedding model in chat is BadRequestError (400)', async () => {
		await assert.rejects(client.chat.completions.create({ model: 'oac-embed',
			messages: [{ role: 'user', content: 'x' }] }), (err) => {
			assert.ok(err instanceof OpenAI.BadRequestError, `got ${err.constructor.name}`);
			assert.equal(err.status, 400);
			assert.equal(err.param, 'model');
			return true;
		});
	});

	test('an upstream 400 is BadRequestError with the upstream message, streaming too', async () => {
		for (const stream of [false, true]) {
			await assert.rejects(client.chat.completions.create({ model: 'oac-e400', stream,
				messages: [{ role: 'user', content: 'x' }] }), (err) => {
				assert.ok(err instanceof OpenAI.BadRequestError, `got ${err.constructor.name}`);
				assert.match(err.message, /upstream says no/);
				return true;
			});
		}
	});

	test('an unreachable upstream is InternalServerError (502)', async () => {
		await assert.rejects(client.completions.create({ model: 'oac-dead', prompt: 'x' }), (err) => {
			assert.ok(err instanceof OpenAI.InternalServerError, `got ${err.constructor.name}`);
			assert.equal(err.status, 502);
			assert.match(err.message, /upstream dead is unreachable/);
			return true;
		});
	});

	test('an upstream that does not answer is InternalServerError (504)', async () => {
		await assert.rejects(client.chat.completions.create({ model: 'oac-hang', stream: true,
			messages: [{ role: 'user', content: 'x' }] }), (err) => {
			assert.ok(err instanceof OpenAI.InternalServerError, `got ${err.constructor.name}`);
			assert.equal(err.status, 504);
			return true;
		});
	});
});
