// SPDX-License-Identifier: Apache-2.0
// usage.js: the Usage view: GET /v1/stackgate/usage (an admin's key sees everyone's rows, any
// other key its own) as a stacked bar chart per day, one series per model and principal, in
// SVG made element by element, with the table beneath.

import {api, query} from './api.js';
import {busy, byId, clear, el, showError, svg, table} from './dom.js';

export const errorId = 'usage-error';
// Distinct colours, each at least 3:1 against white (WCAG's ratio for graphics).
const COLOURS = ['#0b57d0', '#b3261e', '#146c2e', '#8a4b00', '#6b3fa0', '#00677d', '#a0306e', '#4d4d4d'];
let ctx = null;

function daysAgo(n) {
	const d = new Date(Date.now() - n * 86400000);
	return d.toISOString().slice(0, 10);
}

function metric() {
	return document.querySelector('input[name="usage-metric"]:checked').value;
}

function valueOf(row, m) {
	return Number(m === 'tokens' ? row.total_tokens : row.requests) || 0;
}

/* A round step for about five ticks up to max. */
function step(max) {
	const raw = max / 5;
	const p = 10 ** Math.floor(Math.log10(raw));
	return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) || raw;
}

function short(n) {
	if (n >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
	if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
	if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
	return String(n);
}

/* The chart of rows for metric m: days on x, stacked series (model · principal) on y. */
export function chart(rows, m) {
	const days = [...new Set(rows.map((r) => r.day))].sort();
	const series = [...new Set(rows.map((r) => `${r.model} · ${r.principal ?? '(anonymous)'}`))].sort();
	const colour = (s) => COLOURS[series.indexOf(s) % COLOURS.length];
	const totals = days.map((d) => rows.filter((r) => r.day === d).reduce((a, r) => a + valueOf(r, m), 0));
	const max = Math.max(1, ...totals);
	const st = step(max);
	const top = Math.ceil(max / st) * st;
	const W = 900, H = 320, L = 64, R = 16, T = 16, B = 48;
	const bw = (W - L - R) / Math.max(days.length, 1);
	const y = (v) => T + (H - T - B) * (1 - v / top);
	const what = m === 'tokens' ? 'tokens' : 'requests';
	const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img',
		'aria-label': `${what} per day, ${days.length} days, ${series.length} series; the table below has the numbers`});
	for (let v = 0; v <= top + st / 2; v += st) {
		root.append(svg('line', {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#c9ced4', 'stroke-width': 1}),
			svg('text', {x: L - 8, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#1a1a1a'}, short(v)));
	}
	root.append(svg('text', {x: 14, y: T + (H - T - B) / 2, 'font-size': 12, fill: '#1a1a1a',
		transform: `rotate(-90 14 ${T + (H - T - B) / 2})`, 'text-anchor': 'middle'}, what));
	days.forEach((d, i) => {
		let base = 0;
		const x = L + i * bw + bw * 0.15;
		for (const s of series) {
			const v = rows.filter((r) => r.day === d && `${r.model} · ${r.principal ?? '(anonymous)'}` === s)
				.reduce((a, r) => a + valueOf(r, m), 0);
			if (v === 0) continue;
			root.append(svg('rect', {x, y: y(base + v), width: bw * 0.7, height: y(base) - y(base + v), fill: colour(s),
				class: 'bar'}, svg('title', {}, `${d} ${s}: ${v} ${what}`)));
			base += v;
		}
		if (days.length <= 31 || i % Math.ceil(days.length / 31) === 0)
			root.append(svg('text', {x: L + i * bw + bw / 2, y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11,
				fill: '#1a1a1a'}, d.slice(5)));
	});
	const legend = el('ul', {class: 'legend', 'aria-label': 'series'}, series.map((s) => el('li', {},
		svg('svg', {viewBox: '0 0 12 12', 'aria-hidden': 'true'}, svg('rect', {width: 12, height: 12, fill: colour(s)})), s)));
	return el('div', {}, root, legend);
}

async function load() {
	const params = {since: byId('usage-since').value, model: byId('usage-model').value.trim()};
	if (ctx.me.admin) params.principal = byId('usage-principal').value.trim();
	showError(byId('usage-error'), '');
	ctx.status('loading usage…');
	const j = await api('GET', `/v1/stackgate/usage${query(params)}`);
	const rows = j.data || [];
	clear(byId('usage-chart')).append(rows.length ? chart(rows, metric())
		: el('p', {class: 'muted'}, 'no usage in this period'));
	const n = (k) => (r) => (r[k] ?? 0).toLocaleString('en');
	clear(byId('usage-table')).append(table([
		{label: 'Day', value: (r) => r.day},
		{label: 'Principal', value: (r) => r.principal ?? '(anonymous)'},
		{label: 'Model', value: (r) => el('span', {class: 'mono'}, r.model)},
		{label: 'Requests', value: n('requests'), num: true},
		{label: 'Prompt tokens', value: n('prompt_tokens'), num: true},
		{label: 'Completion tokens', value: n('completion_tokens'), num: true},
		{label: 'Total tokens', value: n('total_tokens'), num: true},
		{label: 'Cost', value: (r) => (typeof r.cost === 'number' ? r.cost.toFixed(6) : '—'), num: true},
	], rows, 'no rows'));
	ctx.status(`usage: ${rows.length} rows`);
}

export function init(c) {
	ctx = c;
	byId('usage-since').value = daysAgo(29);
	byId('usage-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		busy(byId('usage-form'), load).catch((e) => ctx.fail(byId('usage-error'), 'could not load usage', e));
	});
	for (const r of document.querySelectorAll('input[name="usage-metric"]'))
		r.addEventListener('change', () => load().catch((e) => ctx.fail(byId('usage-error'), 'could not load usage', e)));
}

export async function enter() {
	await load();
}

/* Signed out: forget the rows and the filters. */
export function reset() {
	byId('usage-form').reset();
	byId('usage-since').value = daysAgo(29);
	clear(byId('usage-chart'));
	clear(byId('usage-table'));
	showError(byId('usage-error'), '');
}
