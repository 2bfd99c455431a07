// SPDX-License-Identifier: Apache-2.0
// fcgi_kept.js SOCKET: a FastCGI client standing in for nginx at a worker's
// stop (61_reload.sh).  It asks GET /v1/health on a connection it keeps, as
// fastcgi_keep_conn does (FCGI_KEEP_CONN), and prints "kept STATUS".  At a
// line on stdin it connects a second time, sends the same request without
// FCGI_KEEP_CONN, closes the kept connection (nginx closing an idle one) and
// prints "new STATUS" for the second connection's answer, or "new none" when
// none came within 1.5 s.
'use strict';
const net = require('net');

const sock = process.argv[2];
const ID = 1;

// One FastCGI record: version 1, type, request id, content length, no padding.
function record(type, content) {
	const h = Buffer.alloc(8);
	h[0] = 1;
	h[1] = type;
	h.writeUInt16BE(ID, 2);
	h.writeUInt16BE(content.length, 4);
	return Buffer.concat([h, content]);
}

// A name-value pair of a PARAMS record (names and values under 128 bytes).
function pair(name, value) {
	return Buffer.concat([Buffer.from([name.length, value.length]), Buffer.from(name), Buffer.from(value)]);
}

// BEGIN_REQUEST (responder, keep or not), PARAMS, the empty PARAMS, the empty STDIN.
function request(keep) {
	const begin = Buffer.from([0, 1, keep ? 1 : 0, 0, 0, 0, 0, 0]);
	const params = Buffer.concat([pair('REQUEST_METHOD', 'GET'), pair('REQUEST_URI', '/v1/health'),
		pair('DOCUMENT_URI', '/v1/health'), pair('CONTENT_LENGTH', ''), pair('STACKGATE_REQUEST_ID', 'fcgi-kept')]);
	return Buffer.concat([record(1, begin), record(4, params), record(4, Buffer.alloc(0)),
		record(5, Buffer.alloc(0))]);
}

// Calls done(status) with the Status: of the answer once END_REQUEST came on conn.
function answer(conn, done) {
	let buf = Buffer.alloc(0), stdout = '';
	conn.on('data', (d) => {
		buf = Buffer.concat([buf, d]);
		while (buf.length >= 8) {
			const len = buf.readUInt16BE(4), pad = buf[6];
			if (buf.length < 8 + len + pad)
				break;
			const type = buf[1], content = buf.subarray(8, 8 + len);
			buf = buf.subarray(8 + len + pad);
			if (type === 6)
				stdout += content.toString();
			if (type === 3) {
				const m = /^Status: (\d+)/m.exec(stdout);
				done(m ? m[1] : 'no-status');
				return;
			}
		}
	});
}

const kept = net.connect(sock, () => kept.write(request(true)));
kept.on('error', (e) => { console.log('kept error ' + e.code); process.exit(1); });
answer(kept, (status) => {
	console.log('kept ' + status);
	process.stdin.once('data', () => {
		const fresh = net.connect(sock, () => {
			fresh.write(request(false));
			kept.end();
		});
		const timer = setTimeout(() => { console.log('new none'); process.exit(0); }, 1500);
		fresh.on('error', (e) => { clearTimeout(timer); console.log('new error ' + e.code); process.exit(0); });
		answer(fresh, (s) => { clearTimeout(timer); console.log('new ' + s); process.exit(0); });
	});
});
