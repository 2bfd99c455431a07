// SPDX-License-Identifier: Apache-2.0
// main.js: sign-in, the caller (GET /v1/stackgate/me: which views to offer), the navigation
// between views (the URL's #hash, so the back button and links work) and the status line.

import {api, clearKey, getKey, setKey} from './api.js';
import {byId, showError} from './dom.js';
import * as registry from './registry.js';
import * as principals from './principals.js';
import * as usage from './usage.js';
import * as health from './health.js';

const views = {registry, principals, usage, health};
const ctx = {me: null, status, fail};
let current = null;

/* The status line: what is loading, or what just happened (aria-live). */
function status(text) {
	byId('status').textContent = text || '';
}

/*
 * An API call failed: a refused key signs out; anything else is shown in node (a role=alert
 * element) in words, with the field the API named.
 */
function fail(node, what, e) {
	status('');
	if (e.status === 401) signedOut(e.message);
	else showError(node, `${what}: ${e.message}${e.param ? ` (field ${e.param})` : ''}`);
}

function signedOut(message) {
	ctx.me = null;
	byId('nav').hidden = true;
	byId('who').hidden = true;
	for (const v of document.querySelectorAll('.view')) v.hidden = true;
	// Nothing the last key could see stays in the page.
	for (const v of Object.values(views)) v.reset();
	byId('who-name').textContent = '';
	byId('signin').hidden = false;
	showError(byId('signin-error'), message);
	current = null;
	status('');
	byId('apikey').focus();
}

function allowed(name) {
	const b = document.querySelector(`nav button[data-view="${name}"]`);
	return b !== null && !b.hidden;
}

async function show(name) {
	if (!ctx.me) return;
	if (!views[name] || !allowed(name)) name = 'registry';
	if (current && current !== name && views[current].leave) views[current].leave();
	current = name;
	for (const b of document.querySelectorAll('nav button')) {
		if (b.dataset.view === name) b.setAttribute('aria-current', 'page');
		else b.removeAttribute('aria-current');
	}
	for (const [n] of Object.entries(views)) byId(`view-${n}`).hidden = n !== name;
	try {
		await views[name].enter(ctx);
	} catch (e) {
		fail(byId(views[name].errorId), `could not show ${name}`, e);
	}
}

async function signIn() {
	status('signing in…');
	try {
		ctx.me = await api('GET', '/v1/stackgate/me');
	} catch (e) {
		clearKey();
		signedOut(e.message);
		return;
	}
	const me = ctx.me;
	byId('signin').hidden = true;
	byId('who-name').textContent = `${me.principal || 'anonymous'}${me.admin ? ' (admin)' : ''}`;
	byId('who').hidden = false;
	for (const node of document.querySelectorAll('[data-admin]')) node.hidden = !me.admin;
	byId('nav').hidden = false;
	status('');
	await show(location.hash.slice(1) || 'registry');
	byId('main').focus();
}

byId('signin-form').addEventListener('submit', (ev) => {
	ev.preventDefault();
	const key = byId('apikey').value.trim();
	byId('apikey').value = '';
	if (!key) return;
	setKey(key);
	signIn();
});

byId('signout').addEventListener('click', () => {
	clearKey();
	signedOut('');
});

for (const b of document.querySelectorAll('nav button')) {
	b.addEventListener('click', () => {
		if (location.hash === `#${b.dataset.view}`) show(b.dataset.view);
		else location.hash = b.dataset.view;
	});
}
window.addEventListener('hashchange', () => show(location.hash.slice(1)));

for (const v of Object.values(views)) v.init(ctx);
if (getKey()) signIn();
else signedOut('');
