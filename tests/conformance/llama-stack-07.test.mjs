// SPDX-License-Identifier: Apache-2.0
//
// llama-stack-07.test.mjs: today's llama-stack-client (0.7.3, installed as the
// npm alias llama-stack-client-07 beside 0.2.7) against a running stackgate
// (env SG_URL), through every route it offers that stackgate serves: models
// (OpenAI-shaped list with custom_metadata, retrieve), the root inference
// routes (chat, completions, embeddings; streaming included), shields and
// scoring functions with their unregister, benchmarks under /v1alpha, datasets
// under /v1beta, the admin routes under /v1alpha/admin, providers with health,
// routes with api_filter, and the 501 of a data plane stackgate does not serve.
// Models are registered through the April API first (0.7 has no register).
// Identifiers start with c07.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import LlamaStackClient from 'llama-stack-client-07';

import { chatText, completionText } from './streams.mjs';

const baseURL = process.env.SG_URL || 'http://127.0.0.1:18321';
const client = new LlamaStackClient({ baseURL, maxRetries: 0, timeout: 30000 });
const { NotFoundError, ConflictError, APIError } = LlamaStackClient;

async function registerModel(body) {
	await fetch(`${baseURL}/v1/models/${body.model_id}`, { method: 'DELETE' });
	const res = await fetch(`${baseURL}/v1/models`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify(body) });
	assert.equal(res.status, 200, `registering ${body.model_id}: ${res.status} ${await res.text()}`);
}

async function ignoreMissing(p) {
	try {
		await p;
	} catch (e) {
		if (!(e instanceof NotFoundError)) throw e;
	}
}

before(async () => {
	await registerModel({ model_id: 'c07-llm', provider_id: 'vllm', provider_model_id: 'test-llm', metadata: { tier: 'gold' } });
	await registerModel({ model_id: 'c07-embed', provider_id: 'vllm', provider_model_id: 'test-embed', model_type: 'embedding',
		metadata: { embedding_dimension: 8 } });
});

describe('llama-stack-client 0.7.3: models', () => {
	test('models.list is OpenAI-shaped with custom_metadata', async () => {
		const list = await client.models.list();
		assert.ok(Array.isArray(list));
		const m = list.find((x) => x.id === 'c07-llm');
		assert.ok(m, 'c07-llm is listed');
		assert.equal(m.object, 'model');
		assert.equal(m.owned_by, 'vllm');
		assert.equal(typeof m.created, 'number');
		assert.deepEqual(m.custom_metadata, { model_type: 'llm', provider_id: 'vllm', provider_resource_id: 'test-llm',
			tier: 'gold' });
		const e = list.find((x) => x.id === 'c07-embed');
		assert.equal(e.custom_metadata.model_type, 'embedding');
		assert.equal(e.custom_metadata.embedding_dimension, 8);
	});

	test('models.retrieve returns the same object', async () => {
		const m = await client.models.retrieve('c07-llm');
		assert.equal(m.id, 'c07-llm');
		assert.equal(m.identifier, 'c07-llm', 'April fields too');
		const listed = (await client.models.list()).find((x) => x.id === 'c07-llm');
		assert.deepEqual(m, { ...listed, access_attributes: m.access_attributes });
		await assert.rejects(client.models.retrieve('c07-missing'), NotFoundError);
	});
});

describe('llama-stack-client 0.7.3: inference at the root routes', () => {
	test('chat.completions.create', async () => {
		const c = await client.chat.completions.create({ model: 'c07-llm', messages: [{ role: 'user', content: 'hello 07' }] });
		assert.equal(c.model, 'c07-llm');
		assert.equal(c.choices[0].message.content, 'echo: hello 07');
	});

	test('chat.completions.create with stream', async () => {
		const stream = await client.chat.completions.create({ model: 'c07-llm', stream: true,
			messages: [{ role: 'user', content: 'one two three' }] });
		let n = 0;
		const text = await chatText(stream, (chunk) => {
			assert.equal(chunk.model, 'c07-llm');
			n++;
		});
		assert.ok(n >= 3, `only ${n} chunks`);
		assert.equal(text, 'echo: one two three');
	});

	test('completions.create, streaming too', async () => {
		const c = await client.completions.create({ model: 'c07-llm', prompt: 'roses' });
		assert.equal(c.choices[0].text, 'echo: roses');
		const stream = await client.completions.create({ model: 'c07-llm', prompt: 'are red', stream: true });
		assert.equal(await completionText(stream), 'echo: are red');
	});

	test('embeddings.create', async () => {
		const e = await client.embeddings.create({ model: 'c07-embed', input: ['a', 'b'], encoding_format: 'float' });
		assert.equal(e.model, 'c07-embed');
		assert.equal(e.data.length, 2);
		assert.equal(e.data[0].embedding.length, 8);
	});

	test('an unknown model is NotFoundError', async () => {
		await assert.rejects(client.chat.completions.create({ model: 'c07-nope', messages: [{ role: 'user', content: 'x' }] }),
			NotFoundError);
	});
});

describe('llama-stack-client 0.7.3: registry', () => {
	test('shields: register, list, retrieve, delete', async () => {
		await ignoreMissing(client.shields.delete('c07-shield'));
		const s = await client.shields.register({ shield_id: 'c07-shield', params: { t: 1 } });
		assert.equal(s.identifier, 'c07-shield');
		assert.ok((await client.shields.list()).some((x) => x.identifier === 'c07-shield'));
		assert.deepEqual(await client.shields.retrieve('c07-shield'), s);
		await client.shields.delete('c07-shield');
		await assert.rejects(client.shields.retrieve('c07-shield'), NotFoundError);
		await assert.rejects(client.shields.delete('c07-shield'), NotFoundError);
	});

	test('scoring functions, datasets (v1beta) and benchmarks (v1alpha): register, list, retrieve, unregister', async () => {
		await ignoreMissing(client.alpha.benchmarks.unregister('c07-bench'));
		await ignoreMissing(client.scoringFunctions.unregister('c07-sf'));
		await ignoreMissing(client.beta.datasets.unregister('c07-ds'));
		await client.scoringFunctions.register({ scoring_fn_id: 'c07-sf', description: 'd', return_type: { type: 'number' } });
		assert.equal((await client.scoringFunctions.retrieve('c07-sf')).description, 'd');
		assert.ok((await client.scoringFunctions.list()).some((x) => x.identifier === 'c07-sf'));

		const d = await client.beta.datasets.register({ dataset_id: 'c07-ds', purpose: 'eval/question-answer',
			source: { type: 'uri', uri: 'https://example.com/qa.jsonl' } });
		assert.equal(d.identifier, 'c07-ds');
		assert.deepEqual(await client.beta.datasets.retrieve('c07-ds'), d);
		assert.ok((await client.beta.datasets.list()).some((x) => x.identifier === 'c07-ds'));

		await client.alpha.benchmarks.register({ benchmark_id: 'c07-bench', dataset_id: 'c07-ds', scoring_functions: ['c07-sf'] });
		const b = await client.alpha.benchmarks.retrieve('c07-bench');
		assert.deepEqual(b.scoring_functions, ['c07-sf']);
		assert.ok((await client.alpha.benchmarks.list()).some((x) => x.identifier === 'c07-bench'));
		await assert.rejects(client.scoringFunctions.unregister('c07-sf'), ConflictError, 'in use by the benchmark');

		await client.alpha.benchmarks.unregister('c07-bench');
		await assert.rejects(client.alpha.benchmarks.retrieve('c07-bench'), NotFoundError);
		await client.scoringFunctions.unregister('c07-sf');
		await assert.rejects(client.scoringFunctions.retrieve('c07-sf'), NotFoundError);
		await client.beta.datasets.unregister('c07-ds');
		await assert.rejects(client.beta.datasets.retrieve('c07-ds'), NotFoundError);
	});
});

describe('llama-stack-client 0.7.3: admin and inspect', () => {
	test('health and version, under /v1 and /v1alpha/admin', async () => {
		assert.equal((await client.inspect.health()).status, 'OK');
		assert.equal((await client.alpha.admin.health()).status, 'OK');
		assert.equal((await client.alpha.admin.version()).version, (await client.inspect.version()).version);
	});

	test('providers with health', async () => {
		const list = await client.providers.list();
		const vllm = list.find((p) => p.provider_id === 'vllm');
		assert.equal(vllm.api, 'inference');
		assert.equal(vllm.health.status, 'OK');
		assert.deepEqual((await client.alpha.admin.listProviders()).map((p) => p.provider_id), list.map((p) => p.provider_id));
		const faiss = await client.alpha.admin.inspectProvider('faiss');
		assert.equal(faiss.provider_type, 'inline::faiss');
		assert.equal(faiss.health.status, 'Not Implemented');
		assert.equal((await client.providers.retrieve('vllm')).health.status, 'OK');
		await assert.rejects(client.alpha.admin.inspectProvider('c07-none'), NotFoundError);
	});

	test('routes: uppercase under /v1alpha/admin, api_filter', async () => {
		const admin = await client.alpha.admin.listRoutes();
		assert.ok(admin.some((r) => r.route === '/v1/chat/completions' && r.method === 'POST'));
		assert.ok(admin.every((r) => r.method === r.method.toUpperCase()));
		const v1alpha = await client.alpha.admin.listRoutes({ api_filter: 'v1alpha' });
		assert.ok(v1alpha.length > 0 && v1alpha.every((r) => r.route.startsWith('/v1alpha/')));
		const april = await client.routes.list();
		assert.ok(april.every((r) => r.method === r.method.toLowerCase()), '/v1/inspect/routes keeps April lowercase');
	});
});

describe('llama-stack-client 0.7.3: what stackgate does not serve', () => {
	test('responses.create is 501 naming the route', async () => {
		await assert.rejects(client.responses.create({ model: 'c07-llm', input: 'x' }), (e) => {
			assert.ok(e instanceof APIError, `got ${e.constructor.name}`);
			assert.equal(e.status, 501);
			assert.match(e.message, /POST \/v1\/responses is not implemented/);
			return true;
		});
	});
});
