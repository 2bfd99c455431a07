// SPDX-License-Identifier: Apache-2.0
//
// mcp.js: a tiny Model Context Protocol server (Streamable HTTP transport,
// revision 2025-03-26) for the integration tests.  Plain node, no npm deps.
//
//   POST /mcp            answers as application/json
//   POST /mcp-sse        answers as text/event-stream (multi-line data, and the
//                        stream is left open after the response, as a server may)
//   POST /mcp-broken     200 with a body that is not JSON
//   POST /mcp-rpcerror   initialize works, tools/list answers a JSON-RPC error
//   POST /mcp-echo       like /mcp-rpcerror, the error's message echoing the
//                        request's Authorization and Cookie headers
//   POST /mcp-hang       accepts the request and never answers (counts the
//                        connections and when the client closed them)
//   POST /mcp-tiny       like /mcp-sse, but the answer to initialize comes after
//                        ?n=N (default 200000) tiny events ("data: 0"), written
//                        in many small writes
//   POST /mcp-drip       text/event-stream headers, then a comment every 500 ms
//                        and never an answer
//   POST /mcp-big        text/event-stream of junk events as fast as it goes,
//                        never an answer
//   POST /mcp-redirect   307 to /mcp-redirected (which counts hits and answers)
//   POST /mcp-auth       like /mcp, but 401 unless "Authorization: Bearer
//                        mcp-test-secret" is sent
//   ?prefix=P            prepends P to every tool name (distinct groups in tests)
//
// Methods: initialize (issues an Mcp-Session-Id), notifications/initialized
// (202), tools/list (two pages: get_weather + add_numbers, then echo_text,
// linked by nextCursor), DELETE (ends the session).  Requests after
// initialize must carry the session id (else 404, as the spec says for an
// unknown session).  GET /_stats reports what was received, for assertions.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const port = Number(process.env.SG_MCP_PORT || 18401);
const sessions = new Set();
const stats = {
	initialize: 0, initialized: 0, tools_list: 0, deleted: 0, bad_session: 0,
	hang_open: 0, hang_closed: 0, redirected: 0, auth_refused: 0, auth_ok: 0,
};
const PATHS = ['/mcp', '/mcp-sse', '/mcp-broken', '/mcp-rpcerror', '/mcp-echo', '/mcp-tiny', '/mcp-auth'];

function tools(prefix) {
	const page1 = [
		{
			name: prefix + 'get_weather',
			description: 'Get the current weather for a city',
			inputSchema: {
				type: 'object',
				properties: {
					city: { type: 'string', description: 'City name' },
					units: { type: 'string', description: 'celsius or fahrenheit', default: 'celsius' },
				},
				required: ['city'],
			},
		},
		{
			name: prefix + 'add_numbers',
			description: 'Add two numbers',
			inputSchema: {
				type: 'object',
				properties: {
					a: { type: 'number', description: 'First addend' },
					b: { type: 'number', description: 'Second addend' },
				},
				required: ['a', 'b'],
			},
		},
	];
	const page2 = [
		{
			name: prefix + 'echo_text',
			inputSchema: {
				type: 'object',
				properties: { text: { type: ['string', 'null'] } },
			},
		},
	];
	return [page1, page2];
}

function reply(res, mode, status, msg, extraHeaders) {
	const headers = Object.assign({}, extraHeaders || {});
	if (msg === null) {
		res.writeHead(status, headers);
		res.end();
		return;
	}
	if (mode === 'tiny' && msg.id === 1) {
		headers['Content-Type'] = 'text/event-stream';
		res.writeHead(status, headers);
		tinyEvents(res, msg, tinyCount);
		return;
	}
	if (mode === 'sse') {
		headers['Content-Type'] = 'text/event-stream';
		headers['Cache-Control'] = 'no-cache';
		res.writeHead(status, headers);
		// A comment and an unrelated notification first, then the response spread
		// over several data: lines; the stream then stays open until the client leaves.
		res.write(': ping\n\n');
		res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello"}}\n\n');
		const lines = JSON.stringify(msg, null, 1).split('\n');
		res.write('event: message\nid: 1\n' + lines.map((l) => 'data: ' + l).join('\n') + '\n\n');
		const t = setTimeout(() => res.end(), 60000);
		t.unref();
		res.on('close', () => clearTimeout(t));
		return;
	}
	headers['Content-Type'] = 'application/json';
	res.writeHead(status, headers);
	res.end(JSON.stringify(msg));
}

let tinyCount = 200000;

// Many tiny events, 100 per write, a write per turn of the event loop, then the answer.
function tinyEvents(res, msg, n) {
	const batch = 'data: 0\n\n'.repeat(100);
	let left = n;
	let closed = false;
	res.on('close', () => { closed = true; });
	const step = () => {
		if (closed) return;
		if (left <= 0) {
			res.end('data: ' + JSON.stringify(msg) + '\n\n');
			return;
		}
		left -= 100;
		if (res.write(batch)) setImmediate(step);
		else res.once('drain', step);
	};
	step();
}

// Endless output that never holds an answer: a comment every 500 ms (drip) or junk at full speed (big).
function endless(req, res, mode) {
	res.writeHead(200, { 'Content-Type': 'text/event-stream' });
	let closed = false;
	res.on('close', () => { closed = true; });
	if (mode === 'drip') {
		const t = setInterval(() => { if (closed) clearInterval(t); else res.write(': tick\n\n'); }, 500);
		return;
	}
	const junk = ('data: ' + 'x'.repeat(1000) + '\n\n').repeat(16);
	const step = () => {
		if (closed) return;
		if (res.write(junk)) setImmediate(step);
		else res.once('drain', step);
	};
	step();
}

function handle(req, res, body) {
	const url = new URL(req.url, 'http://localhost');
	const path = url.pathname;
	const prefix = url.searchParams.get('prefix') || '';

	if (req.method === 'GET' && path === '/_stats') {
		res.writeHead(200, { 'Content-Type': 'application/json' });
		res.end(JSON.stringify(stats));
		return;
	}
	if (req.method === 'POST' && path === '/mcp-hang') {
		stats.hang_open++;
		req.socket.on('close', () => stats.hang_closed++);
		return; // never answered
	}
	if (req.method === 'POST' && (path === '/mcp-drip' || path === '/mcp-big')) {
		endless(req, res, path === '/mcp-drip' ? 'drip' : 'big');
		return;
	}
	if (req.method === 'POST' && path === '/mcp-redirect') {
		res.writeHead(307, { Location: '/mcp-redirected' });
		res.end();
		return;
	}
	if (path === '/mcp-redirected') {
		stats.redirected++;
		res.writeHead(200, { 'Content-Type': 'application/json' });
		res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
		return;
	}
	if (path === '/mcp-auth') {
		if (req.headers.authorization !== 'Bearer mcp-test-secret') {
			stats.auth_refused++;
			res.writeHead(401, { 'Content-Type': 'text/plain' });
			res.end('unauthorized\n');
			return;
		}
		stats.auth_ok++;
	}
	if (!PATHS.includes(path)) {
		res.writeHead(404, { 'Content-Type': 'text/plain' });
		res.end('not found\n');
		return;
	}
	const mode = path === '/mcp-sse' ? 'sse' : path === '/mcp-tiny' ? 'tiny' : 'json';
	if (mode === 'tiny') tinyCount = Number(url.searchParams.get('n') || 200000);
	const sid = req.headers['mcp-session-id'];

	if (req.method === 'DELETE') {
		if (sid && sessions.delete(sid)) {
			stats.deleted++;
			res.writeHead(200);
		} else {
			res.writeHead(404);
		}
		res.end();
		return;
	}
	if (req.method !== 'POST') {
		res.writeHead(405, { Allow: 'POST, DELETE' });
		res.end();
		return;
	}
	if (path === '/mcp-broken') {
		res.writeHead(200, { 'Content-Type': 'application/json' });
		res.end('<html>this is not JSON-RPC{');
		return;
	}
	let msg;
	try {
		msg = JSON.parse(body);
	} catch (e) {
		reply(res, 'json', 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
		return;
	}
	if (msg.method === 'initialize') {
		stats.initialize++;
		const id = crypto.randomUUID();
		sessions.add(id);
		reply(res, mode, 200, {
			jsonrpc: '2.0',
			id: msg.id,
			result: {
				protocolVersion: '2025-03-26',
				capabilities: { tools: { listChanged: false } },
				serverInfo: { name: 'stackgate-test-mcp', version: '1.0.0' },
			},
		}, { 'Mcp-Session-Id': id });
		return;
	}
	if (!sid || !sessions.has(sid)) {
		stats.bad_session++;
		reply(res, 'json', 404, { jsonrpc: '2.0', id: msg.id ?? null, error: { code: -32001, message: 'Session not found' } });
		return;
	}
	if (msg.method === 'notifications/initialized') {
		stats.initialized++;
		reply(res, mode, 202, null);
		return;
	}
	if (msg.method === 'tools/list') {
		stats.tools_list++;
		if (path === '/mcp-rpcerror') {
			reply(res, mode, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32603, message: 'tool listing exploded' } });
			return;
		}
		if (path === '/mcp-echo') {
			const message = `refused ${req.headers.authorization} with ${req.headers.cookie}`;
			reply(res, mode, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32603, message } });
			return;
		}
		const pages = tools(prefix);
		const cursor = msg.params && msg.params.cursor;
		const result = cursor === 'page2' ? { tools: pages[1] } : { tools: pages[0], nextCursor: 'page2' };
		reply(res, mode, 200, { jsonrpc: '2.0', id: msg.id, result });
		return;
	}
	reply(res, mode, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.listen(port, '127.0.0.1', () => {
	process.stdout.write(`mcp test server listening on 127.0.0.1:${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => {
		server.close();
		process.exit(0);
	});
}
