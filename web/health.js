// SPDX-License-Identifier: Apache-2.0
// health.js: the Health view (admins): GET /v1/stackgate/status, refreshed every 10 s while the
// view is open.  Request and error rates are the change of the host's counters between two
// readings, over the time between them.

import {api} from './api.js';
import {byId, clear, el, showError, table} from './dom.js';

export const errorId = 'health-error';
const EVERY_MS = 10000;
let ctx = null;
let timer = null;
let last = null;

function tile(label, value, ok) {
	return el('div', {class: 'tile'}, el('div', {class: 'label'}, label),
		el('div', {class: 'value'}, ok === undefined ? value : el('span', {class: `badge ${ok ? 'ok' : 'bad'}`}, value)));
}

function rate(now, prev, key) {
	if (!prev || !now.requests || !prev.requests || now.time <= prev.time) return '—';
	const d = (now.requests[key] - prev.requests[key]) / ((now.time - prev.time) / 1000);
	return `${d >= 0 ? d.toFixed(2) : '0.00'}/s`;
}

function render(s) {
	const pg = s.postgresql || {};
	const w = s.workers, q = s.requests;
	const tiles = [tile('PostgreSQL', pg.status === 'OK' ? 'up' : `down: ${pg.message || ''}`, pg.status === 'OK')];
	if (w && q) {
		tiles.push(tile('Workers', `${w.running} of ${w.configured}`, w.running >= w.configured),
			tile('Threads', String(w.threads)), tile('Worker restarts', String(w.restarts)),
			tile('Requests', q.total.toLocaleString('en')), tile('Request rate', rate(s, last, 'total')),
			tile('Server errors (5xx)', q.server_errors.toLocaleString('en')),
			tile('Server error rate', rate(s, last, 'server_errors')),
			tile('Client errors (4xx)', q.client_errors.toLocaleString('en')),
			tile('In flight', String(q.in_flight)), tile('Open streams', String(q.open_streams)));
	} else {
		tiles.push(tile('Counters', 'metrics are off (metrics.enabled)'));
	}
	clear(byId('health-summary')).append(...tiles);
	clear(byId('health-providers')).append(table([
		{label: 'Provider', value: (p) => el('span', {class: 'mono'}, p.provider_id)},
		{label: 'API', value: (p) => p.api},
		{label: 'Type', value: (p) => p.provider_type},
		{label: 'Health', value: (p) => {
			const h = p.health || {};
			const ok = h.status === 'OK';
			return el('span', {}, el('span', {class: `badge ${ok ? 'ok' : h.status === 'Error' ? 'bad' : ''}`}, h.status || '?'),
				h.message ? ` ${h.message}` : '');
		}},
	], s.providers || [], 'no providers configured'));
	byId('health-time').textContent = `as of ${new Date(s.time).toLocaleTimeString()}; refreshed every ${EVERY_MS / 1000} s`;
	last = s;
}

async function load() {
	showError(byId('health-error'), '');
	ctx.status('reading the status…');
	render(await api('GET', '/v1/stackgate/status'));
	ctx.status('');
}

function tick() {
	load().catch((e) => ctx.fail(byId('health-error'), 'could not read the status', e));
}

export function init(c) {
	ctx = c;
	byId('health-reload').addEventListener('click', tick);
}

export async function enter() {
	if (timer === null) timer = setInterval(tick, EVERY_MS);
	await load();
}

export function leave() {
	clearInterval(timer);
	timer = null;
}

/* Signed out: stop polling and forget the last reading. */
export function reset() {
	leave();
	last = null;
	clear(byId('health-summary'));
	clear(byId('health-providers'));
	byId('health-time').textContent = '';
	showError(byId('health-error'), '');
}
