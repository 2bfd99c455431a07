// SPDX-License-Identifier: Apache-2.0
//
// llama-stack.test.mjs: the official llama-stack-client (0.2.7) against a
// running stackgate (env SG_URL): register, list, retrieve and unregister
// every resource type the client has methods for, and the error cases the
// client maps to its own classes (404 NotFoundError, 409 ConflictError, 400
// BadRequestError).  Identifiers start with c30 so the integration files do
// not collide with these.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import LlamaStackClient, { BadRequestError, ConflictError, NotFoundError } from 'llama-stack-client';

import { chatText, completionText } from './streams.mjs';

const baseURL = process.env.SG_URL || 'http://127.0.0.1:18321';
const mcpURL = process.env.SG_MCP_URL || 'http://127.0.0.1:18401';
// No retries: a 409 is final here (the client would otherwise retry it).
const client = new LlamaStackClient({ baseURL, maxRetries: 0, timeout: 30000 });

async function ignoreMissing(p) {
	try {
		await p;
	} catch (e) {
		if (!(e instanceof NotFoundError)) throw e;
	}
}

function ids(list) {
	return list.map((x) => x.identifier);
}

test('models: register, list, retrieve, unregister', async () => {
	await ignoreMissing(client.models.unregister('c30-model'));
	const m = await client.models.register({ model_id: 'c30-model', provider_id: 'vllm', provider_model_id: 'test-llm' });
	assert.equal(m.identifier, 'c30-model');
	assert.equal(m.provider_resource_id, 'test-llm');
	assert.equal(m.provider_id, 'vllm');
	assert.equal(m.type, 'model');
	assert.equal(m.model_type, 'llm');
	assert.deepEqual(m.metadata, {});

	const again = await client.models.register({ model_id: 'c30-model', provider_id: 'vllm', provider_model_id: 'test-llm' });
	assert.deepEqual(again, m, 'an identical registration returns the stored model');

	const list = await client.models.list();
	assert.ok(Array.isArray(list), 'list() unwraps data');
	assert.ok(ids(list).includes('c30-model'));
	assert.ok(!('access_attributes' in list.find((x) => x.identifier === 'c30-model')), 'list items omit access_attributes');

	const got = await client.models.retrieve('c30-model');
	assert.deepEqual(got, m);

	await client.models.unregister('c30-model');
	await assert.rejects(client.models.retrieve('c30-model'), NotFoundError);
});

test('models: ids with a slash', async () => {
	const id = 'meta-llama/Llama-3.2-3B-Instruct-c30';
	await ignoreMissing(client.models.unregister(id));
	await client.models.register({ model_id: id, provider_id: 'vllm', provider_model_id: 'test-llm' });
	const got = await client.models.retrieve(id);
	assert.equal(got.identifier, id);
	await client.models.unregister(id);
	await assert.rejects(client.models.retrieve(id), NotFoundError);
});

test('models: error classes', async () => {
	await assert.rejects(client.models.retrieve('c30-missing'), (e) => {
		assert.ok(e instanceof NotFoundError);
		assert.equal(e.status, 404);
		assert.match(e.message, /Model 'c30-missing' not found/);
		return true;
	});
	await ignoreMissing(client.models.unregister('c30-conflict'));
	await client.models.register({ model_id: 'c30-conflict', provider_id: 'vllm', provider_model_id: 'test-llm' });
	await assert.rejects(
		client.models.register({ model_id: 'c30-conflict', provider_id: 'vllm', provider_model_id: 'test-llm-2' }),
		(e) => e instanceof ConflictError && e.status === 409,
	);
	await assert.rejects(client.models.register({ model_id: 'c30-bad' }), (e) => {
		assert.ok(e instanceof BadRequestError);
		assert.match(e.message, /provider_id is required/);
		return true;
	});
	await assert.rejects(
		client.models.register({ model_id: 'c30-bad', provider_id: 'vllm-short', model_type: 'embedding' }),
		BadRequestError,
	);
	await assert.rejects(client.models.unregister('c30-missing'), NotFoundError);
	await client.models.unregister('c30-conflict');
});

test('shields: register, list, retrieve', async () => {
	const s = await client.shields.register({ shield_id: 'c30-shield', params: { threshold: 0.5 } });
	assert.equal(s.identifier, 'c30-shield');
	assert.equal(s.provider_id, 'llama-guard');
	assert.deepEqual(s.params, { threshold: 0.5 });
	assert.ok(ids(await client.shields.list()).includes('c30-shield'));
	assert.deepEqual(await client.shields.retrieve('c30-shield'), s);
	await assert.rejects(client.shields.register({ shield_id: 'c30-shield', params: {} }), ConflictError);
	await assert.rejects(client.shields.retrieve('c30-missing'), NotFoundError);
	await assert.rejects(client.shields.register({ shield_id: 'c30-s2', provider_id: 'nope' }), BadRequestError);
});

test('vector DBs: register, list, retrieve, unregister', async () => {
	await ignoreMissing(client.vectorDBs.unregister('c30-vdb'));
	await ignoreMissing(client.models.unregister('c30-embed'));
	await client.models.register({
		model_id: 'c30-embed',
		provider_id: 'vllm',
		provider_model_id: 'test-embed',
		model_type: 'embedding',
		metadata: { embedding_dimension: 384 },
	});
	const v = await client.vectorDBs.register({ vector_db_id: 'c30-vdb', embedding_model: 'c30-embed' });
	assert.equal(v.identifier, 'c30-vdb');
	assert.equal(v.embedding_dimension, 384);
	assert.equal(v.provider_id, 'faiss');
	assert.ok(ids(await client.vectorDBs.list()).includes('c30-vdb'));
	assert.deepEqual(await client.vectorDBs.retrieve('c30-vdb'), v);
	await assert.rejects(
		client.vectorDBs.register({ vector_db_id: 'c30-vdb2', embedding_model: 'c30-embed', embedding_dimension: 768 }),
		BadRequestError,
	);
	await assert.rejects(client.vectorDBs.register({ vector_db_id: 'c30-vdb2', embedding_model: 'c30-nope' }), BadRequestError);
	await assert.rejects(client.models.unregister('c30-embed'), ConflictError, 'a model in use cannot go');
	await client.vectorDBs.unregister('c30-vdb');
	await assert.rejects(client.vectorDBs.retrieve('c30-vdb'), NotFoundError);
	await client.models.unregister('c30-embed');
});

test('datasets: register, list, retrieve, unregister', async () => {
	await ignoreMissing(client.datasets.unregister('c30-ds'));
	const d = await client.datasets.register({
		dataset_id: 'c30-ds',
		purpose: 'eval/question-answer',
		source: { type: 'uri', uri: 'huggingface://llamastack/simpleqa?split=train' },
	});
	assert.equal(d.identifier, 'c30-ds');
	assert.equal(d.provider_id, 'huggingface');
	assert.deepEqual(d.source, { type: 'uri', uri: 'huggingface://llamastack/simpleqa?split=train' });
	const rows = await client.datasets.register({
		purpose: 'post-training/messages',
		source: { type: 'rows', rows: [{ messages: [{ role: 'user', content: 'hi' }] }] },
	});
	assert.match(rows.identifier, /^dataset-[0-9a-f-]{36}$/);
	assert.equal(rows.provider_id, 'localfs');
	const list = await client.datasets.list();
	assert.ok(ids(list).includes('c30-ds') && ids(list).includes(rows.identifier));
	assert.deepEqual(await client.datasets.retrieve('c30-ds'), d);
	await assert.rejects(
		client.datasets.register({ dataset_id: 'c30-ds', purpose: 'eval/messages-answer', source: d.source }),
		ConflictError,
	);
	await assert.rejects(
		client.datasets.register({ purpose: 'nonsense', source: { type: 'rows', rows: [] } }),
		BadRequestError,
	);
	await client.datasets.unregister(rows.identifier);
	await client.datasets.unregister('c30-ds');
	await assert.rejects(client.datasets.retrieve('c30-ds'), NotFoundError);
});

test('scoring functions and benchmarks: register, list, retrieve', async () => {
	const sf = await client.scoringFunctions.register({
		scoring_fn_id: 'c30-sf',
		description: 'exact match',
		return_type: { type: 'number' },
		params: { type: 'regex_parser', parsing_regexes: ['Answer: (.*)'] },
	});
	// The client types register() as void; stackgate returns the stored object.
	assert.equal(sf.identifier, 'c30-sf');
	assert.deepEqual(sf.params, { type: 'regex_parser', parsing_regexes: ['Answer: (.*)'], aggregation_functions: [] });
	assert.ok(ids(await client.scoringFunctions.list()).includes('c30-sf'));
	assert.equal((await client.scoringFunctions.retrieve('c30-sf')).description, 'exact match');
	await assert.rejects(client.scoringFunctions.retrieve('c30-missing'), NotFoundError);
	await assert.rejects(
		client.scoringFunctions.register({ scoring_fn_id: 'c30-sf', description: 'other', return_type: { type: 'number' } }),
		ConflictError,
	);
	await assert.rejects(
		client.scoringFunctions.register({ scoring_fn_id: 'c30-sf2', description: 'd', return_type: { type: 'dialog' } }),
		BadRequestError,
	);

	await client.datasets.register({
		dataset_id: 'c30-bench-ds',
		purpose: 'eval/question-answer',
		source: { type: 'uri', uri: 'https://example.com/qa.jsonl' },
	});
	const b = await client.benchmarks.register({
		benchmark_id: 'c30-bench',
		dataset_id: 'c30-bench-ds',
		scoring_functions: ['c30-sf'],
		metadata: { note: 'conformance' },
	});
	assert.equal(b.identifier, 'c30-bench');
	assert.deepEqual(b.scoring_functions, ['c30-sf']);
	assert.ok(ids(await client.benchmarks.list()).includes('c30-bench'));
	assert.deepEqual((await client.benchmarks.retrieve('c30-bench')).metadata, { note: 'conformance' });
	await assert.rejects(client.benchmarks.retrieve('c30-missing'), NotFoundError);
	await assert.rejects(
		client.benchmarks.register({ benchmark_id: 'c30-bench2', dataset_id: 'c30-nope', scoring_functions: ['c30-sf'] }),
		BadRequestError,
	);
	await assert.rejects(
		client.benchmarks.register({ benchmark_id: 'c30-bench', dataset_id: 'c30-bench-ds', scoring_functions: [] }),
		ConflictError,
	);
});

test('tool groups and tools: register, list, get, unregister', async () => {
	const uri = `${mcpURL}/mcp?prefix=c30_`;
	await ignoreMissing(client.toolgroups.unregister('c30::mcp'));
	const g = await client.toolgroups.register({
		toolgroup_id: 'c30::mcp',
		provider_id: 'model-context-protocol',
		mcp_endpoint: { uri },
	});
	assert.equal(g.identifier, 'c30::mcp');
	assert.deepEqual(g.mcp_endpoint, { uri });
	assert.ok(ids(await client.toolgroups.list()).includes('c30::mcp'));
	assert.deepEqual(await client.toolgroups.get('c30::mcp'), g);

	const tools = await client.tools.list({ toolgroup_id: 'c30::mcp' });
	assert.deepEqual(ids(tools), ['c30_get_weather', 'c30_add_numbers', 'c30_echo_text']);
	const t = await client.tools.get('c30_add_numbers');
	assert.equal(t.toolgroup_id, 'c30::mcp');
	assert.equal(t.tool_host, 'model_context_protocol');
	assert.deepEqual(
		t.parameters.map((p) => [p.name, p.parameter_type, p.required]),
		[
			['a', 'number', true],
			['b', 'number', true],
		],
	);
	await assert.rejects(client.tools.get('c30-missing'), NotFoundError);

	await assert.rejects(
		client.toolgroups.register({ toolgroup_id: 'c30::other', provider_id: 'model-context-protocol', mcp_endpoint: { uri } }),
		ConflictError,
		'tool names belong to c30::mcp',
	);
	await assert.rejects(client.toolgroups.register({ toolgroup_id: 'c30::x', provider_id: 'nope' }), BadRequestError);

	await client.toolgroups.unregister('c30::mcp');
	await assert.rejects(client.toolgroups.get('c30::mcp'), NotFoundError);
	await assert.rejects(client.tools.get('c30_add_numbers'), NotFoundError, 'the tools went with their group');
	assert.deepEqual(await client.tools.list({ toolgroup_id: 'c30::mcp' }), []);
});

test('models: each entry also carries the current field set', async () => {
	await ignoreMissing(client.models.unregister('c30-both'));
	await client.models.register({ model_id: 'c30-both', provider_id: 'vllm', provider_model_id: 'test-llm' });
	const got = await client.models.retrieve('c30-both');
	assert.equal(got.identifier, 'c30-both');
	assert.equal(got.id, 'c30-both');
	assert.equal(got.object, 'model');
	assert.equal(got.custom_metadata.provider_resource_id, 'test-llm');
	await client.models.unregister('c30-both');
});

test('inference through the client (/v1/openai/v1), streaming included', async () => {
	await ignoreMissing(client.models.unregister('c30-chat'));
	await client.models.register({ model_id: 'c30-chat', provider_id: 'vllm', provider_model_id: 'test-llm' });
	const c = await client.chat.completions.create({ model: 'c30-chat', messages: [{ role: 'user', content: 'hi 02' }] });
	assert.equal(c.choices[0].message.content, 'echo: hi 02');
	// 0.2.x parses every event as JSON: the stream must end without [DONE] for it.
	const stream = await client.chat.completions.create({ model: 'c30-chat', stream: true,
		messages: [{ role: 'user', content: 'a b c' }] });
	assert.equal(await chatText(stream), 'echo: a b c');
	const cs = await client.completions.create({ model: 'c30-chat', prompt: 'p q', stream: true });
	assert.equal(await completionText(cs), 'echo: p q');
	await client.models.unregister('c30-chat');
});

test('inspect, providers, health and version', async () => {
	assert.equal((await client.inspect.health()).status, 'OK');
	assert.equal(typeof (await client.inspect.version()).version, 'string');
	const routes = await client.routes.list();
	assert.ok(routes.some((r) => r.route === '/v1/models' && r.method === 'get'), 'April RouteInfo.method is lowercase');
	const providers = await client.providers.list();
	assert.equal(providers.find((p) => p.provider_id === 'vllm').health.status, 'OK');
	assert.equal((await client.providers.retrieve('faiss')).api, 'vector_io');
});
