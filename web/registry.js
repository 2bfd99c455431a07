// SPDX-License-Identifier: Apache-2.0
// registry.js: the Registry view.  Every resource type through GET /v1/stackgate/registry?type=
// (what this key may see, with provider, owner, access attributes and, where the registry has
// them, deployments), searchable; register (the API's own JSON body) and unregister (offered where
// the policy permits it) through the types' own routes, with the API's error shown.

import {api, idPath, query} from './api.js';
import {busy, button, byId, clear, el, showError, table} from './dom.js';

/* Each type: its name, label, collection path and body template (no template: not registered here). */
export const TYPES = [
	{type: 'model', label: 'Models', path: '/v1/models',
		template: {model_id: '', provider_id: '', provider_model_id: '', model_type: 'llm'}},
	{type: 'shield', label: 'Shields', path: '/v1/shields', template: {shield_id: '', provider_id: ''}},
	{type: 'vector_db', label: 'Vector DBs', path: '/v1/vector-dbs',
		template: {vector_db_id: '', embedding_model: '', embedding_dimension: 384}},
	{type: 'dataset', label: 'Datasets', path: '/v1beta/datasets',
		template: {dataset_id: '', purpose: 'eval/messages-answer', source: {type: 'uri', uri: ''}}},
	{type: 'scoring_function', label: 'Scoring functions', path: '/v1/scoring-functions',
		template: {scoring_fn_id: '', description: '', return_type: {type: 'string'}}},
	{type: 'benchmark', label: 'Benchmarks', path: '/v1/eval/benchmarks',
		template: {benchmark_id: '', dataset_id: '', scoring_functions: []}},
	{type: 'tool_group', label: 'Tool groups', path: '/v1/toolgroups',
		template: {toolgroup_id: '', provider_id: '', mcp_endpoint: {uri: ''}}},
	{type: 'tool', label: 'Tools', path: null, template: null},
];

export const errorId = 'reg-error';
let rows = [];
let ctx = null;

/* "roles: a, b; teams: c", or "public" for an object without an ACL. */
export function attrsText(a) {
	if (!a || typeof a !== 'object') return 'public';
	const parts = [];
	for (const k of ['roles', 'teams', 'projects', 'namespaces'])
		if (Array.isArray(a[k])) parts.push(`${k}: ${a[k].join(', ') || '(none)'}`);
	return parts.length ? parts.join('; ') : 'public';
}

/*
 * A model's deployments ([{provider_id, provider_model_id, weight}]), routing and fallbacks, when
 * the API gives them (to admins), as text.
 */
function deploymentsText(o) {
	const parts = [];
	if (Array.isArray(o.deployments) && o.deployments.length)
		parts.push(o.deployments.map((x) => (typeof x === 'string' ? x
			: [x.provider_id, x.provider_model_id].filter(Boolean).join(': ')
				+ (x.weight !== undefined ? ` (weight ${x.weight})` : ''))).join('; '));
	if (typeof o.routing === 'string' && parts.length) parts.push(`routing: ${o.routing}`);
	if (Array.isArray(o.fallbacks) && o.fallbacks.length) parts.push(`fallbacks: ${o.fallbacks.join(', ')}`);
	return parts.join('; ');
}

function matches(r, needle) {
	if (!needle) return true;
	const hay = [r.o.identifier, r.o.provider_id, r.o.provider_resource_id, r.o.owner, attrsText(r.o.access_attributes),
		deploymentsText(r.o), r.t.label].join(' ').toLowerCase();
	return hay.includes(needle);
}

function render() {
	const type = byId('reg-type').value;
	const needle = byId('reg-search').value.trim().toLowerCase();
	const shown = rows.filter((r) => (!type || r.t.type === type) && matches(r, needle));
	const withDeployments = shown.some((r) => deploymentsText(r.o) !== '');
	const columns = [
		{label: 'Type', value: (r) => r.t.label.replace(/s$/, '')},
		{label: 'Identifier', value: (r) => el('span', {class: 'mono'}, r.o.identifier)},
		{label: 'Provider', value: (r) => r.o.provider_id || ''},
		{label: 'Provider resource', value: (r) => el('span', {class: 'mono'}, r.o.provider_resource_id || '')},
		{label: 'Owner', value: (r) => r.o.owner || (r.o.from_config ? 'config' : '—')},
		{label: 'Access attributes', value: (r) => attrsText(r.o.access_attributes)},
	];
	if (withDeployments) columns.push({label: 'Deployments', value: (r) => deploymentsText(r.o)});
	columns.push({label: 'Actions', value: (r) => (r.t.path && r.o.can_unregister !== false ? button('Unregister', () => unregister(r),
		{class: 'danger', 'aria-label': `Unregister ${r.t.label.replace(/s$/, '').toLowerCase()} ${r.o.identifier}`}) : '')});
	byId('reg-count').textContent = `${shown.length} of ${rows.length} objects`;
	clear(byId('reg-table')).append(table(columns, shown, 'no objects match'));
}

async function load() {
	ctx.status('loading the registry…');
	showError(byId('reg-error'), '');
	const lists = await Promise.all(TYPES.map((t) => api('GET', `/v1/stackgate/registry${query({type: t.type})}`)
		.then((j) => (j.data || []).map((o) => ({t, o})))));
	rows = lists.flat();
	render();
	ctx.status(`registry loaded: ${rows.length} objects`);
}

async function unregister(r) {
	const label = r.t.label.replace(/s$/, '').toLowerCase();
	if (!window.confirm(`Unregister ${label} '${r.o.identifier}'?`)) return;
	showError(byId('reg-error'), '');
	try {
		await api('DELETE', `${r.t.path}/${idPath(r.o.identifier)}`);
		ctx.status(`unregistered ${label} '${r.o.identifier}'`);
		await load();
	} catch (e) {
		ctx.fail(byId('reg-error'), `could not unregister ${label} '${r.o.identifier}'`, e);
	}
}

async function register(ev) {
	ev.preventDefault();
	const t = TYPES.find((x) => x.type === byId('reg-form-type').value);
	let body;
	showError(byId('reg-error'), '');
	try {
		body = JSON.parse(byId('reg-body').value);
	} catch (e) {
		showError(byId('reg-error'), `the body is not valid JSON: ${e.message}`);
		return;
	}
	ctx.status(`registering a ${t.label.replace(/s$/, '').toLowerCase()}…`);
	try {
		const o = await api('POST', t.path, body);
		ctx.status(`registered ${t.label.replace(/s$/, '').toLowerCase()} '${o && o.identifier}'`);
		await load();
	} catch (e) {
		ctx.status('');
		ctx.fail(byId('reg-error'), 'could not register', e);
	}
}

function fillTemplate() {
	const t = TYPES.find((x) => x.type === byId('reg-form-type').value);
	byId('reg-body').value = JSON.stringify(t.template, null, 2);
}

export function init(c) {
	ctx = c;
	const sel = byId('reg-type');
	sel.append(el('option', {value: ''}, 'All types'), ...TYPES.map((t) => el('option', {value: t.type}, t.label)));
	byId('reg-form-type').append(...TYPES.filter((t) => t.template).map((t) => el('option', {value: t.type}, t.label)));
	fillTemplate();
	sel.addEventListener('change', render);
	byId('reg-search').addEventListener('input', render);
	byId('reg-reload').addEventListener('click', () => load().catch((e) => ctx.fail(byId('reg-error'), 'could not load the registry', e)));
	byId('reg-form-type').addEventListener('change', fillTemplate);
	byId('reg-form').addEventListener('submit', (ev) => busy(byId('reg-form'), () => register(ev)));
}

export async function enter() {
	await load();
}

/* Signed out: forget the rows and the form. */
export function reset() {
	rows = [];
	clear(byId('reg-table'));
	byId('reg-count').textContent = '';
	byId('reg-search').value = '';
	byId('reg-type').value = '';
	fillTemplate();
	byId('reg-register').open = false;
	showError(byId('reg-error'), '');
}
