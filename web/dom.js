// SPDX-License-Identifier: Apache-2.0
// dom.js: the one way the page makes elements.  Every value goes in as text (textContent,
// text nodes, attribute values): tenants choose identifiers and metadata, so nothing they
// wrote is ever parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith('on')) throw new Error('event handlers are added with addEventListener');
		if (k === 'text') node.textContent = String(v);
		else node.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat()) {
		if (c === undefined || c === null || c === false) continue;
		node.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return node;
}

/* el('td', {class: 'num'}, 'text', otherNode): an HTML element with attributes and children. */
export function el(tag, attrs, ...children) {
	return fill(document.createElement(tag), attrs, children);
}

/* The same for SVG elements. */
export function svg(tag, attrs, ...children) {
	return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(node) {
	node.replaceChildren();
	return node;
}

export function byId(id) {
	return document.getElementById(id);
}

/*
 * A table of rows: columns are {label, value: row => text or Node, num?: bool}.
 * With no rows, one line saying `empty`.
 */
export function table(columns, rows, empty = 'nothing to show') {
	if (rows.length === 0) return el('p', {class: 'muted'}, empty);
	const head = el('tr', {}, columns.map((c) => el('th', {scope: 'col', class: c.num ? 'num' : null}, c.label)));
	const body = rows.map((r) => el('tr', {}, columns.map((c) => el('td', {class: c.num ? 'num' : null}, c.value(r)))));
	return el('table', {}, el('thead', {}, head), el('tbody', {}, body));
}

/* A button with a click handler that is disabled while the handler's promise runs. */
export function button(label, onClick, attrs = {}) {
	const b = el('button', {type: 'button', ...attrs}, label);
	b.addEventListener('click', async () => {
		b.disabled = true;
		try {
			await onClick();
		} finally {
			b.disabled = false;
		}
	});
	return b;
}

/*
 * Runs fn (a submit handler's work) with the form's buttons disabled and the form aria-busy, so a
 * click cannot send it twice and a screen reader hears that it is working.
 */
export async function busy(form, fn) {
	const buttons = [...form.querySelectorAll('button')];
	form.setAttribute('aria-busy', 'true');
	for (const b of buttons) b.disabled = true;
	try {
		return await fn();
	} finally {
		for (const b of buttons) b.disabled = false;
		form.removeAttribute('aria-busy');
	}
}

/* Shows message in a role=alert element, or hides it when message is empty. */
export function showError(node, message) {
	node.textContent = message || '';
	node.hidden = !message;
}
