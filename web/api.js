// SPDX-License-Identifier: Apache-2.0
// api.js: every call the page makes, through stackgate's own HTTP API and its policy, with the
// API key from sessionStorage as a bearer token (never in a URL or a cookie).  Errors come back
// as ApiError with stackgate's message in words.

const KEY = 'stackgate.key';

export function getKey() {
	return sessionStorage.getItem(KEY);
}

export function setKey(key) {
	sessionStorage.setItem(KEY, key);
}

export function clearKey() {
	sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
	constructor(status, message, param) {
		super(message);
		this.status = status;
		this.param = param || null;
	}
}

/* The message of an error body: OpenAI's error.message, or Llama Stack's detail. */
function messageOf(status, body) {
	const e = body && body.error;
	if (e && typeof e.message === 'string' && e.message) return [e.message, e.param];
	if (body && typeof body.detail === 'string' && body.detail) return [body.detail, null];
	return [`the server answered ${status} with no message`, null];
}

/* method path [body]: the answer's JSON (null for an empty body); throws ApiError. */
export async function api(method, path, body) {
	const headers = {Accept: 'application/json'};
	const key = getKey();
	if (key) headers.Authorization = `Bearer ${key}`;
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	let res;
	try {
		res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'omit', cache: 'no-store'});
	} catch (e) {
		throw new ApiError(0, 'stackgate could not be reached (network error)');
	}
	const text = await res.text();
	let json = null;
	if (text) {
		try {
			json = JSON.parse(text);
		} catch (e) {
			if (res.ok) throw new ApiError(res.status, 'the answer is not JSON');
		}
	}
	if (!res.ok) {
		const [msg, param] = messageOf(res.status, json);
		throw new ApiError(res.status, res.status === 401 ? `the API key was refused: ${msg}` : msg, param);
	}
	return json;
}

/* A path segment list from an identifier that may hold '/': each part encoded, slashes kept. */
export function idPath(id) {
	return String(id).split('/').map(encodeURIComponent).join('/');
}

/* A query string from an object, leaving out empty values. */
export function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
	const s = q.toString();
	return s ? `?${s}` : '';
}
