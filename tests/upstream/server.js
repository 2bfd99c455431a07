// SPDX-License-Identifier: Apache-2.0
//
// server.js: the deterministic OpenAI-compatible upstream the integration and
// conformance tests proxy to.  Plain node, no dependencies.  Listens on
// 127.0.0.1:$SG_UPSTREAM_PORT (default 18400) and serves, under /v1:
//
//   GET  /v1/models            a fixed list (MODELS below)
//   POST /v1/chat/completions  reply "echo: <last user message text>"
//   POST /v1/completions       reply "echo: <prompt>"
//   POST /v1/embeddings        one deterministic vector per input (floats, or
//                              base64 float32 with encoding_format: base64)
//
// Replies name the model the request named (what reached us: the provider's
// resource id), so a test can tell it from the name the client used.
// `stream: true` gives SSE: a role chunk, one chunk per word, a finish chunk,
// a usage chunk when stream_options.include_usage, then `data: [DONE]`.
//
// The requested model name selects a behaviour:
//   err-<code>        that HTTP status with an OpenAI error body
//   slow-<ms>         wait, then answer normally
//   hang              accept the request and never answer
//   cut               stream: two chunks, then the socket is destroyed;
//                     non-stream: half a body, then destroyed
//   garbage           200 with a body that is not JSON (stream: data lines that
//                     are not JSON, then [DONE])
//   stream-<n>-<ms>   stream n content chunks, ms apart
//   stall-<n>         stream n chunks, then send nothing and keep the socket
//   nodone            stream without the final [DONE]
//   json-stream       answer a stream request with a plain JSON reply
//   echo-key-<code>   that HTTP status with an error body that echoes the
//                     Authorization header it received (and, for Basic, the
//                     decoded user:password) in message and param, as a
//                     careless upstream does: stackgate must scrub it
//   echo-key-long-<code>  the same after 977 bytes of padding (the key
//                     straddles where stackgate cuts a relayed message)
//   echo-key-stream   stream: one chunk, then an error event that echoes the
//                     Authorization header, and the end (no [DONE])
//   no-stream-options 400 for a request that has stream_options (as upstreams
//                     that predate it answer), else normal
//   retry-after-<s>   429 with `Retry-After: <s>` and an OpenAI error body
// The header `X-Upstream-Mode: <mode>` selects the same behaviours for any model.
//
// Test hooks (not OpenAI):
//   GET /_last[?model=name]  {"method","path","headers","body","raw"} of the
//                            last inference request (for that model); body
//                            parsed when it is JSON, raw the text as received
//   GET /_stats              counters: requests, streams_started,
//                            streams_completed, streams_aborted (the client
//                            closed the connection before the stream ended),
//                            by_model: inference requests received per model
//
// Logs one line per request to stdout: method, path, model, status.  Never a
// header or a body (they carry keys).  Stops on SIGTERM/SIGINT.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.SG_UPSTREAM_PORT || 18400);
const HOST = process.env.SG_UPSTREAM_HOST || '127.0.0.1';

const MODELS = [
	'test-llm', 'test-llm-2', 'test-embed',
	'err-400', 'err-401', 'err-404', 'err-422', 'err-429', 'err-500', 'err-503',
	'slow-500', 'slow-1000', 'slow-3000', 'hang', 'cut', 'garbage', 'nodone', 'json-stream',
	'stream-3-50', 'stream-5-300', 'stream-20-100', 'stall-1', 'stall-2', 'echo-key-400', 'echo-key-500',
	'echo-key-long-400', 'echo-key-stream', 'no-stream-options', 'retry-after-1',
];
const CREATED = 1700000000;

const stats = { requests: 0, streams_started: 0, streams_completed: 0, streams_aborted: 0, by_model: {} };
let last = null;
const lastByModel = new Map();
const sockets = new Set();

function log(req, model, status) {
	process.stdout.write(`${new Date().toISOString()} ${req.method} ${req.url} model=${model || '-'} -> ${status}\n`);
}

function sendJSON(res, status, obj) {
	const body = JSON.stringify(obj);
	res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
	res.end(body);
}

function errorBody(status, message) {
	const types = { 400: 'invalid_request_error', 401: 'authentication_error', 404: 'not_found_error',
		422: 'invalid_request_error', 429: 'rate_limit_error' };
	return { error: { message, type: types[status] || 'server_error', param: null, code: null } };
}

function textOf(content) {
	if (typeof content === 'string') return content;
	if (Array.isArray(content)) {
		return content.map((p) => (p && p.type === 'text' ? p.text : p && p.type === 'image_url' ? '[image]' : ''))
			.filter((s) => s !== '').join(' ');
	}
	return '';
}

function replyText(kind, body) {
	if (kind === 'chat') {
		const msgs = Array.isArray(body.messages) ? body.messages : [];
		for (let i = msgs.length - 1; i >= 0; i--) {
			if (msgs[i] && msgs[i].role === 'user') return `echo: ${textOf(msgs[i].content)}`;
		}
		return 'echo: (no user message)';
	}
	if (Array.isArray(body.guided_choice) && body.guided_choice.length > 0) return String(body.guided_choice[0]);
	const prompt = Array.isArray(body.prompt) ? body.prompt.join(' ') : String(body.prompt ?? '');
	return `echo: ${prompt}`;
}

// Deterministic pseudo-embedding: FNV-1a of the text, spread over dim values in [-1, 1].
function embed(text, dim) {
	let h = 0x811c9dc5;
	for (const ch of String(text)) {
		h ^= ch.codePointAt(0);
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	const v = [];
	for (let i = 0; i < dim; i++) {
		h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
		v.push(Math.round(((h % 2001) / 1000 - 1) * 1000) / 1000);
	}
	return v;
}

function usage(body, text) {
	const prompt = JSON.stringify(body.messages ?? body.prompt ?? body.input ?? '').length;
	const completion = text.split(' ').length;
	return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function completionObject(kind, body, model, text) {
	if (kind === 'chat') {
		const choice = { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'stop' };
		if (Array.isArray(body.tools) && body.tools.length > 0 && body.tool_choice === 'required') {
			const fn = body.tools[0].function || {};
			choice.message = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
				function: { name: fn.name || 'f', arguments: '{}' } }] };
			choice.finish_reason = 'tool_calls';
		}
		return { id: 'chatcmpl-test', object: 'chat.completion', created: CREATED, model, choices: [choice],
			usage: usage(body, text) };
	}
	const choice = { index: 0, text, logprobs: null, finish_reason: 'stop' };
	if (body.prompt_logprobs !== undefined && body.prompt_logprobs !== null) {
		choice.prompt_logprobs = [null, { 1: { logprob: -0.5, rank: 1, decoded_token: 'x' } }];
	}
	return { id: 'cmpl-test', object: 'text_completion', created: CREATED, model, choices: [choice],
		usage: usage(body, text) };
}

function chunkObject(kind, model, piece, finish, index) {
	if (kind === 'chat') {
		const delta = index === 0 ? { role: 'assistant', content: '' } : piece === null ? {} : { content: piece };
		return { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: CREATED, model,
			choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
	}
	return { id: 'cmpl-test', object: 'text_completion', created: CREATED, model,
		choices: [{ index: 0, text: piece ?? '', logprobs: null, finish_reason: finish }] };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseMode(name) {
	let m;
	if (typeof name !== 'string') return { kind: 'normal' };
	if ((m = /^err-(\d{3})$/.exec(name))) return { kind: 'err', status: Number(m[1]) };
	if ((m = /^echo-key-(\d{3})$/.exec(name))) return { kind: 'echo-key', status: Number(m[1]) };
	if ((m = /^echo-key-long-(\d{3})$/.exec(name))) return { kind: 'echo-key', status: Number(m[1]), pad: 977 };
	if ((m = /^slow-(\d+)$/.exec(name))) return { kind: 'normal', delay: Number(m[1]) };
	if ((m = /^retry-after-(\d+)$/.exec(name))) return { kind: 'retry-after', seconds: Number(m[1]) };
	if ((m = /^stream-(\d+)-(\d+)$/.exec(name))) return { kind: 'normal', chunks: Number(m[1]), gap: Number(m[2]) };
	if ((m = /^stall-(\d+)$/.exec(name))) return { kind: 'stall', chunks: Number(m[1]) };
	if (['hang', 'cut', 'garbage', 'nodone', 'json-stream', 'echo-key-stream', 'no-stream-options'].includes(name)) {
		return { kind: name };
	}
	return { kind: 'normal' };
}

async function stream(req, res, kind, body, model, mode) {
	const text = replyText(kind, body);
	let pieces = text.split(' ').map((w, i) => (i === 0 ? w : ` ${w}`));
	if (mode.chunks !== undefined) {
		pieces = Array.from({ length: mode.chunks }, (_, i) => (i === 0 ? `chunk${i}` : ` chunk${i}`));
	}
	const gap = mode.gap || 0;
	let ended = false;
	stats.streams_started++;
	res.on('close', () => {
		if (!ended) stats.streams_aborted++;
	});
	res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
	const send = (obj) => res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);

	if (mode.kind === 'garbage') {
		send('this is not json');
		send('{"truncated":');
		res.write(': a comment\n\n');
		send('[DONE]');
		ended = true;
		res.end();
		stats.streams_completed++;
		return;
	}
	if (kind === 'chat') send(chunkObject(kind, model, null, null, 0));
	for (let i = 0; i < pieces.length; i++) {
		if (res.destroyed) return;
		if (gap > 0 && i > 0) await sleep(gap);
		if (res.destroyed) return;
		send(chunkObject(kind, model, pieces[i], null, i + 1));
		if (mode.kind === 'echo-key-stream') {
			send({ error: { message: `incorrect API key provided: ${req.headers.authorization || ''}`,
				type: 'server_error', param: null, code: null } });
			ended = true;
			res.end();
			stats.streams_completed++;
			return;
		}
		if (mode.kind === 'cut' && (i === 1 || i + 1 === pieces.length)) break;
		if (mode.kind === 'stall' && i + 1 >= mode.chunks) return; // never ends
	}
	if (mode.kind === 'cut') {
		// Let what was written reach the client, then drop the connection mid-stream.
		ended = true;
		await sleep(100);
		res.socket.destroy();
		return;
	}
	send(chunkObject(kind, model, null, 'stop', pieces.length + 1));
	if (body.stream_options && body.stream_options.include_usage) {
		send({ id: kind === 'chat' ? 'chatcmpl-test' : 'cmpl-test',
			object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
			created: CREATED, model, choices: [], usage: usage(body, text) });
	}
	if (mode.kind !== 'nodone') send('[DONE]');
	ended = true;
	res.end();
	stats.streams_completed++;
}

async function inference(req, res, kind, raw) {
	let body;
	try {
		body = JSON.parse(raw);
	} catch {
		body = null;
	}
	const record = { method: req.method, path: req.url, headers: req.headers, body: body ?? raw, raw };
	last = record;
	if (body === null || typeof body !== 'object' || Array.isArray(body)) {
		log(req, null, 400);
		return sendJSON(res, 400, errorBody(400, 'the body is not a JSON object'));
	}
	const model = body.model;
	if (typeof model === 'string') {
		lastByModel.set(model, record);
		stats.by_model[model] = (stats.by_model[model] || 0) + 1;
	}
	const mode = parseMode(req.headers['x-upstream-mode'] || model);
	if (typeof model !== 'string' || model === '') {
		log(req, model, 400);
		return sendJSON(res, 400, errorBody(400, 'model is required'));
	}
	if (mode.delay) await sleep(mode.delay);
	switch (mode.kind) {
	case 'err':
		log(req, model, mode.status);
		return sendJSON(res, mode.status, errorBody(mode.status, `upstream says no (${model})`));
	case 'retry-after':
		log(req, model, 429);
		res.setHeader('Retry-After', String(mode.seconds));
		return sendJSON(res, 429, errorBody(429, `slow down (${model})`));
	case 'echo-key': {
		const auth = req.headers.authorization || '';
		const basic = /^Basic (.+)$/.exec(auth);
		const creds = basic ? Buffer.from(basic[1], 'base64').toString('utf8') : '';
		const pad = mode.pad ? `${'x'.repeat(mode.pad)} ` : '';
		const e = errorBody(mode.status, `${pad}incorrect API key provided: ${auth}${creds ? ` (${creds})` : ''}`);
		e.error.param = auth.replace(/^\S+ /, '');
		log(req, model, mode.status);
		return sendJSON(res, mode.status, e);
	}
	case 'no-stream-options':
		if (body.stream_options !== undefined) {
			log(req, model, 400);
			return sendJSON(res, 400, errorBody(400, 'Unrecognized request argument supplied: stream_options'));
		}
		break;
	case 'hang':
		log(req, model, 'hang');
		return; // the socket stays open until the client leaves or we stop
	case 'garbage':
		if (!body.stream) {
			log(req, model, 200);
			res.writeHead(200, { 'Content-Type': 'application/json' });
			return res.end('this is { not json');
		}
		break;
	case 'cut':
		if (!body.stream) {
			log(req, model, 'cut');
			res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 1000 });
			res.write('{"id":"cmpl-test","choices":[');
			return setTimeout(() => res.socket.destroy(), 50);
		}
		break;
	default:
		break;
	}
	if (kind === 'embeddings') {
		const inputs = Array.isArray(body.input) ? body.input : [body.input];
		const dim = Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : 8;
		log(req, model, 200);
		return sendJSON(res, 200, {
			object: 'list', model,
			data: inputs.map((t, i) => {
				const v = embed(Array.isArray(t) ? t.join(',') : t, dim);
				// encoding_format "base64": little-endian float32s, as OpenAI sends them.
				const embedding = body.encoding_format === 'base64'
					? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
				return { object: 'embedding', index: i, embedding };
			}),
			usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
		});
	}
	if (body.stream === true && mode.kind !== 'json-stream') {
		log(req, model, 'stream');
		return stream(req, res, kind, body, model, mode);
	}
	log(req, model, 200);
	return sendJSON(res, 200, completionObject(kind, body, model, replyText(kind, body)));
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const raw = Buffer.concat(chunks).toString('utf8');
		const url = new URL(req.url, 'http://upstream');
		const path = url.pathname;
		stats.requests++;
		if (req.method === 'GET' && path === '/v1/models') {
			log(req, null, 200);
			return sendJSON(res, 200, { object: 'list',
				data: MODELS.map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'test-upstream' })) });
		}
		if (req.method === 'POST' && path === '/v1/chat/completions') return inference(req, res, 'chat', raw);
		if (req.method === 'POST' && path === '/v1/completions') return inference(req, res, 'completion', raw);
		if (req.method === 'POST' && path === '/v1/embeddings') return inference(req, res, 'embeddings', raw);
		if (req.method === 'GET' && path === '/_last') {
			const m = url.searchParams.get('model');
			const rec = m !== null ? lastByModel.get(m) : last;
			return sendJSON(res, rec ? 200 : 404, rec ?? { error: { message: 'no request recorded' } });
		}
		if (req.method === 'GET' && path === '/_stats') return sendJSON(res, 200, stats);
		log(req, null, 404);
		return sendJSON(res, 404, errorBody(404, `no route for ${req.method} ${path}`));
	});
});

server.on('connection', (s) => {
	sockets.add(s);
	s.on('close', () => sockets.delete(s));
});
server.keepAliveTimeout = 30000;

function stop() {
	server.close();
	for (const s of sockets) s.destroy();
	process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(PORT, HOST, () => {
	process.stdout.write(`test upstream listening on http://${HOST}:${PORT}\n`);
});
