// SPDX-License-Identifier: Apache-2.0
// principals.js: the Principals and keys view (admins): the admin routes
// /v1/stackgate/principals and /v1/stackgate/keys, whose fields are named like the CLI's flags
// (role, team, project, namespace; principal, description, expires_in).  A created key is
// shown once, copyable, and never kept by the page.

import {api, idPath, query} from './api.js';
import {busy, button, byId, clear, el, showError, table} from './dom.js';

export const errorId = 'pr-error';
const FIELDS = ['role', 'team', 'project', 'namespace'];
let ctx = null;
let editing = null; // the principal being changed, or null: the form adds

function list(text) {
	return text.split(',').map((s) => s.trim()).filter(Boolean);
}

function resetForm() {
	editing = null;
	byId('pr-form').reset();
	byId('pr-name').readOnly = false;
	byId('pr-form-title').textContent = 'Add a principal';
	byId('pr-submit').textContent = 'Add principal';
	byId('pr-cancel').hidden = true;
}

function edit(p) {
	editing = p.name;
	byId('pr-name').value = p.name;
	byId('pr-name').readOnly = true;
	for (const f of FIELDS) byId(`pr-${f}`).value = (p[f] || []).join(', ');
	byId('pr-form-title').textContent = `Change principal ${p.name}`;
	byId('pr-submit').textContent = 'Save attributes';
	byId('pr-cancel').hidden = false;
	byId('pr-role').focus();
}

/* Runs fn (an API call), then says done and reloads; or shows why it failed, after failed. */
async function act(done, failed, node, fn) {
	showError(node, '');
	try {
		await fn();
		ctx.status(done);
		await load();
	} catch (e) {
		ctx.fail(node, failed, e);
	}
}

function renderPrincipals(principals) {
	const columns = [
		{label: 'Name', value: (p) => el('span', {class: 'mono'}, p.name)},
		...FIELDS.map((f) => ({label: `${f[0].toUpperCase()}${f.slice(1)}s`, value: (p) => (p[f] || []).join(', ')})),
		{label: 'State', value: (p) => el('span', {class: `badge ${p.disabled ? 'bad' : 'ok'}`}, p.disabled ? 'disabled' : 'enabled')},
		{label: 'Actions', value: (p) => el('span', {class: 'actions'},
			button('Change', () => edit(p), {class: 'secondary', 'aria-label': `Change ${p.name}`}),
			button(p.disabled ? 'Enable' : 'Disable', () => act(`${p.disabled ? 'enabled' : 'disabled'} principal '${p.name}'`,
				`could not ${p.disabled ? 'enable' : 'disable'} principal '${p.name}'`, byId('pr-error'), () => api('PUT', `/v1/stackgate/principals/${idPath(p.name)}`, {disabled: !p.disabled})),
			{class: 'secondary', 'aria-label': `${p.disabled ? 'Enable' : 'Disable'} ${p.name}`}),
			button('Remove', () => (window.confirm(`Remove principal '${p.name}' and all its keys?`)
				? act(`removed principal '${p.name}'`, `could not remove principal '${p.name}'`, byId('pr-error'),
					() => api('DELETE', `/v1/stackgate/principals/${idPath(p.name)}`)) : null),
			{class: 'danger', 'aria-label': `Remove ${p.name}`}))},
	];
	clear(byId('pr-table')).append(table(columns, principals, 'no principals yet'));
	const sel = byId('key-principal');
	const keep = sel.value;
	clear(sel).append(...principals.map((p) => el('option', {value: p.name}, p.name)));
	if (principals.some((p) => p.name === keep)) sel.value = keep;
}

function renderKeys(keys) {
	const columns = [
		{label: 'Key id', value: (k) => el('span', {class: 'mono'}, k.key_id)},
		{label: 'Principal', value: (k) => k.principal},
		{label: 'Created', value: (k) => k.created_at || ''},
		{label: 'Expires', value: (k) => k.expires_at || 'never'},
		{label: 'Status', value: (k) => el('span', {class: `badge ${k.status === 'active' ? 'ok' : 'bad'}`}, k.status)},
		{label: 'Last used', value: (k) => k.last_used_at || '—'},
		{label: 'Description', value: (k) => k.description || ''},
		{label: 'Actions', value: (k) => (k.status === 'revoked' ? '' : button('Revoke', () => (
			window.confirm(`Revoke key ${k.key_id} of '${k.principal}'?`)
				? act(`revoked key ${k.key_id}`, `could not revoke key ${k.key_id}`, byId('key-error'), () => api('DELETE', `/v1/stackgate/keys/${k.key_id}`))
				: null), {class: 'danger', 'aria-label': `Revoke key ${k.key_id}`}))},
	];
	clear(byId('key-table')).append(table(columns, keys, 'no keys yet'));
}

async function load() {
	ctx.status('loading principals and keys…');
	const [principals, keys] = await Promise.all([api('GET', '/v1/stackgate/principals'),
		api('GET', `/v1/stackgate/keys${query({})}`)]);
	renderPrincipals(principals.data || []);
	renderKeys(keys.data || []);
	ctx.status(`${(principals.data || []).length} principals, ${(keys.data || []).length} keys`);
}

async function savePrincipal(ev) {
	ev.preventDefault();
	const body = {};
	for (const f of FIELDS) body[f] = list(byId(`pr-${f}`).value);
	const name = byId('pr-name').value.trim();
	const wasEditing = editing;
	await act(wasEditing ? `changed principal '${name}'` : `added principal '${name}'`,
		`could not ${wasEditing ? 'change' : 'add'} principal '${name}'`, byId('pr-error'), async () => {
		if (wasEditing) await api('PUT', `/v1/stackgate/principals/${idPath(wasEditing)}`, body);
		else await api('POST', '/v1/stackgate/principals', {name, ...body});
		resetForm();
	});
}

async function createKey(ev) {
	ev.preventDefault();
	const body = {principal: byId('key-principal').value};
	const description = byId('key-description').value.trim();
	const days = byId('key-expires').value;
	if (description) body.description = description;
	if (days) body.expires_in = Number(days);
	showError(byId('key-error'), '');
	try {
		const k = await api('POST', '/v1/stackgate/keys', body);
		byId('key-new-principal').textContent = k.principal;
		byId('key-new-text').value = k.key;
		byId('key-copied').textContent = '';
		byId('key-new').hidden = false;
		byId('key-form').reset();
		byId('key-new-text').focus();
		byId('key-new-text').select();
		ctx.status(`created key ${k.key_id} for '${k.principal}'`);
		await load();
	} catch (e) {
		ctx.fail(byId('key-error'), 'could not create the key', e);
	}
}

async function copyKey() {
	const input = byId('key-new-text');
	try {
		await navigator.clipboard.writeText(input.value);
		byId('key-copied').textContent = 'copied';
	} catch (e) {
		input.focus();
		input.select();
		byId('key-copied').textContent = 'selected: press Ctrl+C (or ⌘C) to copy';
	}
}

function dismissKey() {
	byId('key-new-text').value = '';
	byId('key-new').hidden = true;
}

export function init(c) {
	ctx = c;
	byId('pr-form').addEventListener('submit', (ev) => busy(byId('pr-form'), () => savePrincipal(ev)));
	byId('pr-cancel').addEventListener('click', resetForm);
	byId('key-form').addEventListener('submit', (ev) => busy(byId('key-form'), () => createKey(ev)));
	byId('key-copy').addEventListener('click', copyKey);
	byId('key-dismiss').addEventListener('click', dismissKey);
}

export async function enter() {
	await load();
}

/* Leaving the view forgets a shown key. */
export function leave() {
	dismissKey();
}

/* Signed out: forget every principal, key and form. */
export function reset() {
	dismissKey();
	resetForm();
	byId('key-form').reset();
	clear(byId('pr-table'));
	clear(byId('key-table'));
	clear(byId('key-principal'));
	showError(byId('pr-error'), '');
	showError(byId('key-error'), '');
}
