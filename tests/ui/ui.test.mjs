// SPDX-License-Identifier: Apache-2.0
// ui.test.mjs: the operator page (web/) in a real browser, Debian's chromium driven by
// puppeteer-core, against the running test stack (run by tests/integration/75_ui.sh, which
// makes the principals, keys, models and usage first and passes them in the environment).
// Prints one line a check, "ok - WHAT" or "not ok - WHAT: why"; screenshots go to UI_OUT.

import fs from 'node:fs';
import puppeteer from 'puppeteer-core';

const URL_BASE = process.env.SG_URL;
const ADMIN_KEY = process.env.UI_ADMIN_KEY;
const TENANT_KEY = process.env.UI_TENANT_KEY;
const OUT = process.env.UI_OUT;
const WAIT = 15000;

let failures = 0;
function ok(what) {
	console.log(`ok - ${what}`);
}
function notOk(what, why) {
	failures++;
	console.log(`not ok - ${what}: ${String(why).replace(/\s+/g, ' ').slice(0, 400)}`);
}
async function check(what, fn) {
	try {
		const r = await fn();
		if (r === false) notOk(what, 'condition false');
		else ok(what);
	} catch (e) {
		notOk(what, e && e.message ? e.message : e);
	}
}

async function api(key, method, path, body) {
	const res = await fetch(URL_BASE + path, {method, headers: {Authorization: `Bearer ${key}`,
		'Content-Type': 'application/json'}, body: body ? JSON.stringify(body) : undefined});
	const text = await res.text();
	return {status: res.status, json: text ? JSON.parse(text) : null};
}

fs.mkdirSync(OUT, {recursive: true});
const browser = await puppeteer.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run']});
const page = await browser.newPage();
page.setDefaultTimeout(WAIT);
await page.setViewport({width: 1280, height: 900});
const consoleErrors = [];
page.on('console', (m) => {
	if (m.type() === 'error') consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
page.on('dialog', (d) => d.accept());
// The requests the test means to fail, by status: they show as "Failed to load resource" lines.
const deliberate = {400: 0, 401: 0};

const text = (sel) => page.$eval(sel, (e) => e.textContent);
const shot = (name) => page.screenshot({path: `${OUT}/${name}.png`, fullPage: true});
async function view(name) {
	await page.click(`nav button[data-view="${name}"]`);
	await page.waitForFunction((n) => !document.getElementById(`view-${n}`).hidden, {}, name);
}
async function signIn(key) {
	await page.waitForSelector('#apikey', {visible: true});
	await page.type('#apikey', key);
	await page.click('#signin-form button[type="submit"]');
}
/* Visible text whose contrast with its background is under WCAG AA's 4.5:1, as "text (ratio)". */
function lowContrast() {
	return page.evaluate(() => {
		const rgb = (c) => {
			const p = c.match(/[\d.]+/g).map(Number);
			return {c: p.slice(0, 3), a: p.length > 3 ? p[3] : 1};
		};
		const lum = ({c}) => {
			const [r, g, b] = c.map((v) => {
				const s = v / 255;
				return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
			});
			return 0.2126 * r + 0.7152 * g + 0.0722 * b;
		};
		const bg = (e) => {
			for (; e; e = e.parentElement) {
				const c = rgb(getComputedStyle(e).backgroundColor);
				if (c.a > 0) return c;
			}
			return {c: [255, 255, 255], a: 1};
		};
		const bad = [];
		for (const e of document.querySelectorAll('body *')) {
			if (e.closest('svg') || e.disabled || !e.getClientRects().length) continue;
			const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
			if (!own) continue;
			const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(bg(e))].sort((x, y) => y - x);
			const ratio = (a + 0.05) / (b + 0.05);
			if (ratio < 4.5) bad.push(`${e.textContent.trim().slice(0, 30)} (${ratio.toFixed(2)})`);
		}
		return bad;
	});
}
async function contrastOk(what) {
	await check(`${what}: every text meets 4.5:1 contrast`, async () => {
		const bad = await lowContrast();
		if (bad.length) throw new Error(bad.slice(0, 5).join('; '));
	});
}
async function rowWith(container, needle) {
	await page.waitForFunction((c, n) => [...document.querySelectorAll(`#${c} tbody tr`)]
		.some((tr) => tr.textContent.includes(n)), {}, container, needle);
}
async function noRowWith(container, needle) {
	await page.waitForFunction((c, n) => ![...document.querySelectorAll(`#${c} tbody tr`)]
		.some((tr) => tr.textContent.includes(n)), {}, container, needle);
}

try {
	const res = await page.goto(`${URL_BASE}/ui/`, {waitUntil: 'networkidle0'});
	await check('the page loads from /ui/ with the security headers', () => {
		const h = res.headers();
		if (res.status() !== 200) throw new Error(`status ${res.status()}`);
		if (h['content-security-policy'] !== "default-src 'self'") throw new Error(`CSP ${h['content-security-policy']}`);
		return h['x-content-type-options'] === 'nosniff' && h['x-frame-options'] === 'DENY';
	});

	// A refused key: the error in words, still signed out.
	deliberate[401]++;
	await signIn('sg-000000000000-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
	await check('a refused key is shown in words', async () => {
		await page.waitForSelector('#signin-error', {visible: true});
		const t = await text('#signin-error');
		if (!/API key was refused/.test(t)) throw new Error(t);
		return (await page.evaluate(() => sessionStorage.getItem('stackgate.key'))) === null;
	});

	// ---- the admin ----
	await signIn(ADMIN_KEY);
	await check('the admin signs in and sees every view', async () => {
		await page.waitForFunction(() => document.getElementById('who-name').textContent.includes('(admin)'));
		const shown = await page.$$eval('nav button', (bs) => bs.filter((b) => !b.hidden).map((b) => b.dataset.view));
		return shown.join(',') === 'registry,principals,usage,health';
	});
	await check('the key is in sessionStorage, not in a cookie or the URL', async () => {
		const [stored, cookie, href] = await page.evaluate(() => [sessionStorage.getItem('stackgate.key'), document.cookie,
			location.href]);
		return stored === ADMIN_KEY && cookie === '' && !href.includes(ADMIN_KEY);
	});
	await check('the admin\'s registry lists every object with owner and access attributes', async () => {
		await rowWith('reg-table', 'ui-tenant-model');
		await rowWith('reg-table', 'ui-admin-only');
		const row = await page.$$eval('#reg-table tbody tr', (trs) => trs.find((tr) => tr.textContent.includes('ui-tenant-model'))
			.textContent);
		if (!row.includes('ui-tenant') || !row.includes('teams: ui')) throw new Error(row);
	});
	await check('the search narrows the registry', async () => {
		await page.type('#reg-search', 'ui-admin-only');
		await page.waitForFunction(() => document.querySelectorAll('#reg-table tbody tr').length === 1);
		await page.$eval('#reg-search', (e) => {
			e.value = '';
			e.dispatchEvent(new Event('input'));
		});
	});
	await check('tenant-chosen text stays text (no element made from it)', async () => {
		await rowWith('reg-table', 'ui-<b>bold</b>');
		return (await page.$$('#reg-table tbody b')).length === 0;
	});
	await contrastOk('registry');
	await shot('admin-registry');

	// Register through the form, an error, then unregister.
	await page.click('#reg-register summary');
	await page.select('#reg-form-type', 'model');
	const setBody = (o) => page.$eval('#reg-body', (e, v) => {
		e.value = v;
	}, JSON.stringify(o));
	await setBody({model_id: 'ui-web-model', provider_id: 'vllm', provider_model_id: 'test-llm', model_type: 'llm'});
	await page.click('#reg-form button[type="submit"]');
	await check('a model registered on the page shows in the registry', () => rowWith('reg-table', 'ui-web-model'));
	deliberate[400]++;
	await setBody({model_id: 'ui-web-bad', provider_id: 'no-such-provider', provider_model_id: 'x'});
	await page.click('#reg-form button[type="submit"]');
	await check('the API\'s error is shown when a register is refused', async () => {
		await page.waitForSelector('#reg-error', {visible: true});
		const t = await text('#reg-error');
		if (!t.startsWith('could not register:') || !t.includes('no-such-provider')) throw new Error(t);
	});
	await page.click('button[aria-label="Unregister model ui-web-model"]');
	await check('unregistering on the page removes the model', async () => {
		await noRowWith('reg-table', 'ui-web-model');
		const r = await api(ADMIN_KEY, 'GET', '/v1/models/ui-web-model');
		return r.status === 404;
	});

	// Principals and keys.
	await view('principals');
	await rowWith('pr-table', 'ui-tenant');
	await page.type('#pr-name', 'ui-web-p');
	await page.type('#pr-role', 'viewer');
	await page.click('#pr-submit');
	await check('a principal added on the page is listed with its role', async () => {
		await rowWith('pr-table', 'ui-web-p');
		const r = await api(ADMIN_KEY, 'GET', '/v1/stackgate/principals');
		const p = r.json.data.find((x) => x.name === 'ui-web-p');
		return p && p.role.join() === 'viewer';
	});
	await page.click('button[aria-label="Change ui-web-p"]');
	await page.type('#pr-team', 'blue, green');
	await page.click('#pr-submit');
	await check('changing its attributes on the page replaces them', async () => {
		await page.waitForFunction(() => [...document.querySelectorAll('#pr-table tbody tr')]
			.some((tr) => tr.textContent.includes('ui-web-p') && tr.textContent.includes('blue, green')));
		const r = await api(ADMIN_KEY, 'GET', '/v1/stackgate/principals');
		const p = r.json.data.find((x) => x.name === 'ui-web-p');
		return p.team.join() === 'blue,green' && p.role.join() === 'viewer';
	});
	await page.select('#key-principal', 'ui-web-p');
	await page.type('#key-description', 'made on the page');
	await page.click('#key-form button[type="submit"]');
	let newKey = '';
	await check('a created key is shown once and works', async () => {
		await page.waitForSelector('#key-new', {visible: true});
		newKey = await page.$eval('#key-new-text', (e) => e.value);
		if (!/^sg-[0-9a-f]{12}-/.test(newKey)) throw new Error(`key ${newKey}`);
		const r = await api(newKey, 'GET', '/v1/stackgate/me');
		return r.status === 200 && r.json.principal === 'ui-web-p';
	});
	await check('the Copy button puts the key on the clipboard', async () => {
		await browser.defaultBrowserContext().overridePermissions(URL_BASE, ['clipboard-read', 'clipboard-write',
			'clipboard-sanitized-write']);
		await page.click('#key-copy');
		await page.waitForFunction(() => document.getElementById('key-copied').textContent !== '');
		const copied = await page.evaluate(() => navigator.clipboard.readText());
		if (copied !== newKey) throw new Error(`clipboard holds '${copied.slice(0, 20)}…'`);
	});
	await contrastOk('principals and keys');
	await shot('admin-principals-new-key');
	await page.click('#key-dismiss');
	await check('dismissing the key clears it from the page', async () => (await page.$eval('#key-new-text', (e) => e.value)) === ''
		&& !(await page.content()).includes(newKey));
	const keyId = newKey.slice(3, 15);
	await page.click(`button[aria-label="Revoke key ${keyId}"]`);
	await check('revoking the key on the page revokes it', async () => {
		await page.waitForFunction((id) => [...document.querySelectorAll('#key-table tbody tr')]
			.some((tr) => tr.textContent.includes(id) && tr.textContent.includes('revoked')), {}, keyId);
		const r = await api(ADMIN_KEY, 'GET', '/v1/stackgate/keys?principal=ui-web-p');
		return r.json.data.length === 1 && r.json.data[0].status === 'revoked';
	});
	await page.click('button[aria-label="Remove ui-web-p"]');
	await check('removing the principal on the page removes it', () => noRowWith('pr-table', 'ui-web-p'));

	// Usage and health.
	await view('usage');
	await check('the usage chart shows bars for the calls made', async () => {
		await page.waitForSelector('#usage-chart svg rect.bar');
		const rows = await page.$$eval('#usage-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
		return rows.some((r) => r.includes('ui-tenant') && r.includes('ui-tenant-model'))
			&& rows.some((r) => r.includes('ui-root'));
	});
	await contrastOk('usage');
	await shot('admin-usage');
	await view('health');
	await check('the health view shows PostgreSQL, workers and providers', async () => {
		await rowWith('health-providers', 'vllm');
		const t = await text('#health-summary');
		return t.includes('PostgreSQL') && t.includes('up') && t.includes('Workers');
	});
	await contrastOk('health');
	await shot('admin-health');

	// Keyboard: the views are reachable with Tab and Enter.
	await check('the navigation is reachable by keyboard', async () => {
		await page.evaluate(() => document.activeElement && document.activeElement.blur());
		await page.focus('body');
		for (let i = 0; i < 15; i++) {
			await page.keyboard.press('Tab');
			const label = await page.evaluate(() => document.activeElement.textContent.trim());
			if (label === 'Usage') {
				await page.keyboard.press('Enter');
				await page.waitForFunction(() => !document.getElementById('view-usage').hidden);
				return true;
			}
		}
		throw new Error('Usage not reached in 15 tabs');
	});

	await page.click('#signout');
	await check('signing out forgets the key and leaves nothing the admin saw in the page', async () => {
		await page.waitForSelector('#apikey', {visible: true});
		const [stored, body] = await page.evaluate(() => [sessionStorage.getItem('stackgate.key'), document.body.textContent]);
		if (stored !== null) throw new Error('key still stored');
		const left = ['ui-admin-only', 'ui-root', 'ui-other', 'ui-public-model'].filter((w) => body.includes(w));
		if (left.length) throw new Error(`still in the page: ${left.join(', ')}`);
	});
	// ---- the tenant ----
	await signIn(TENANT_KEY);
	await check('the tenant signs in and sees no admin views', async () => {
		await page.waitForFunction(() => document.getElementById('who-name').textContent.trim() === 'ui-tenant');
		const shown = await page.$$eval('nav button', (bs) => bs.filter((b) => !b.hidden).map((b) => b.dataset.view));
		return shown.join(',') === 'registry,usage';
	});
	await view('registry');
	await check('the tenant sees its own and public objects only, and no other owner', async () => {
		await rowWith('reg-table', 'ui-tenant-model');
		await rowWith('reg-table', 'ui-public-model');
		const rows = await page.$$eval('#reg-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
		if (rows.some((r) => r.includes('ui-admin-only'))) throw new Error('sees ui-admin-only');
		return !rows.some((r) => r.includes('ui-root'));
	});
	await check('the tenant is offered Unregister only where the policy permits it', async () => {
		const own = await page.$('button[aria-label="Unregister model ui-tenant-model"]');
		const others = await page.$('button[aria-label="Unregister model ui-public-model"]');
		const config = await page.$('button[aria-label="Unregister scoring function basic::equality"]');
		return own !== null && others === null && config === null;
	});
	await shot('tenant-registry');
	await check('the tenant\'s usage is its own', async () => {
		await view('usage');
		await page.waitForSelector('#usage-chart svg rect.bar');
		const who = await page.$$eval('#usage-table tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
		return who.length > 0 && who.every((w) => w === 'ui-tenant');
	});
	await check('an admin view asked for by URL falls back to the registry', async () => {
		await page.evaluate(() => {
			location.hash = 'principals';
		});
		await page.waitForFunction(() => !document.getElementById('view-registry').hidden
			&& document.getElementById('view-principals').hidden);
	});

	// Narrow screen.
	await page.setViewport({width: 390, height: 844});
	await check('on a narrow screen nothing overflows the page sideways', async () => {
		await view('registry');
		await rowWith('reg-table', 'ui-tenant-model');
		return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
	});
	await shot('tenant-narrow');

	await check('no console errors but the refusals the test asked for', () => {
		const unexpected = consoleErrors.filter((m) => {
			const s = /status of (\d{3})/.exec(m);
			if (s && deliberate[s[1]] > 0) {
				deliberate[s[1]]--;
				return false;
			}
			return true;
		});
		if (unexpected.length) throw new Error(unexpected.join(' | '));
	});
} catch (e) {
	notOk('the browser run', e && e.stack ? e.stack : e);
	await shot('failure').catch(() => {});
} finally {
	await browser.close();
}
process.exit(failures ? 1 : 0);
