// SPDX-License-Identifier: Apache-2.0
//
// streams.mjs: N concurrent streaming chat completions through stackgate (the
// upstream streams for ~10 s each), with a short request timed every 250 ms
// while they run.  Prints one JSON line: how many streams completed with
// [DONE], failures, the short requests' latencies, and the peak memory (PSS
// from /proc, sampled every 500 ms) of the stackgate processes (the master of
// PIDFILE and its children), of the front nginx's (NGINX_PIDFILE, when given)
// and of both together (the peak of their sum).
//
//   node streams.mjs URL MODEL N KEY PIDFILE [NGINX_PIDFILE]
import http from 'node:http';
import fs from 'node:fs';

const [url, model, nStr, key, pidFile, nginxPidFile] = process.argv.slice(2);
const n = Number(nStr);
const base = new URL(url);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function pss(pid) {
  try {
    const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const m = /^Pss:\s+(\d+) kB/m.exec(t);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

// A master (from its pid file) and its children.
function groupPids(file) {
  if (!file) return [];
  const master = Number(fs.readFileSync(file, 'utf8').trim());
  const pids = [master];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

let peakKb = 0, peakNginxKb = 0, peakBothKb = 0;
const sampler = setInterval(() => {
  const kb = groupPids(pidFile).reduce((s, p) => s + pss(p), 0);
  const nkb = groupPids(nginxPidFile).reduce((s, p) => s + pss(p), 0);
  peakKb = Math.max(peakKb, kb);
  peakNginxKb = Math.max(peakNginxKb, nkb);
  peakBothKb = Math.max(peakBothKb, kb + nkb);
}, 500);

function stream() {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const req = http.request({
      host: base.hostname, port: base.port, path: '/v1/openai/v1/chat/completions', method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
                 Authorization: `Bearer ${key}` },
    }, (res) => {
      let tail = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { tail = (tail + c).slice(-64); });
      res.on('end', () => resolve(res.statusCode === 200 && tail.includes('[DONE]')));
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
    req.setTimeout(60000, () => { req.destroy(); resolve(false); });
    req.end(body);
  });
}

function shortRequest() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: base.hostname, port: base.port, path: '/v1/version', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', () => resolve({ ok: false, ms: 0 }));
  });
}

const t0 = Date.now();
const streams = [];
for (let i = 0; i < n; i++) streams.push(stream());
await new Promise((r) => setTimeout(r, 2000)); // let them all open
const shorts = [];
const shortTimer = setInterval(async () => shorts.push(await shortRequest()), 250);
const results = await Promise.all(streams);
clearInterval(shortTimer);
clearInterval(sampler);
const lat = shorts.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null);
console.log(JSON.stringify({
  streams: n,
  completed: results.filter(Boolean).length,
  failed: results.filter((r) => !r).length,
  seconds: (Date.now() - t0) / 1000,
  short_requests: shorts.length,
  short_failed: shorts.filter((s) => !s.ok).length,
  short_p50_ms: pct(0.5),
  short_max_ms: lat.length ? lat[lat.length - 1] : null,
  stackgate_peak_pss_mb: Math.round(peakKb / 1024),
  nginx_peak_pss_mb: nginxPidFile ? Math.round(peakNginxKb / 1024) : null,
  together_peak_pss_mb: nginxPidFile ? Math.round(peakBothKb / 1024) : null,
}));
