// SPDX-License-Identifier: Apache-2.0
//
// stream_latency.mjs: what stackgate adds to a stream.  Runs ROUNDS sequential
// streaming chat completions through stackgate and, interleaved, the same
// through nginx proxy_pass (buffering off) straight to the same upstream, and
// prints the time to the first event and the gaps between events for both.
//
//   node stream_latency.mjs SG_URL SG_MODEL KEY BASE_URL BASE_MODEL ROUNDS
import http from 'node:http';

const [sgUrl, sgModel, key, baseUrl, baseModel, roundsStr] = process.argv.slice(2);
const rounds = Number(roundsStr || 20);

function once(url, model, auth) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const t0 = process.hrtime.bigint();
    const arrivals = [];
    let buf = '';
    const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    if (auth) headers.Authorization = `Bearer ${auth}`;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          if (buf.slice(0, i).startsWith('data:')) arrivals.push(Number(process.hrtime.bigint() - t0) / 1e6);
          buf = buf.slice(i + 2);
        }
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(arrivals) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const stats = { sg: { first: [], gaps: [] }, base: { first: [], gaps: [] } };
for (let r = 0; r < rounds; r++) {
  for (const [name, url, model, auth] of [['sg', `${sgUrl}/v1/openai/v1/chat/completions`, sgModel, key],
                                          ['base', `${baseUrl}/v1/chat/completions`, baseModel, null]]) {
    const a = await once(url, model, auth);
    stats[name].first.push(a[0]);
    for (let i = 1; i < a.length; i++) stats[name].gaps.push(a[i] - a[i - 1]);
  }
}
const fmt = (v) => v.toFixed(3);
for (const [name, label] of [['sg', 'stackgate'], ['base', 'proxy_pass']]) {
  const s = stats[name];
  console.log(`${label.padEnd(11)} first event p50 ${fmt(q(s.first, 0.5))} ms p99 ${fmt(q(s.first, 0.99))} ms; ` +
              `gap between events p50 ${fmt(q(s.gaps, 0.5))} ms p99 ${fmt(q(s.gaps, 0.99))} ms`);
}
console.log(`added      first event p50 ${fmt(q(stats.sg.first, 0.5) - q(stats.base.first, 0.5))} ms; ` +
            `gap p50 ${fmt(q(stats.sg.gaps, 0.5) - q(stats.base.gaps, 0.5))} ms, ` +
            `gap p99 ${fmt(q(stats.sg.gaps, 0.99) - q(stats.base.gaps, 0.99))} ms`);
