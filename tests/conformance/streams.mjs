// SPDX-License-Identifier: Apache-2.0
//
// streams.mjs: what the conformance tests read off a stream, in one place:
// the text of an OpenAI-shape chat or completion stream (what the openai and
// llama-stack-client SDKs yield), and the text and part count of an AI SDK
// textStream.  Not a test file itself (run.sh runs *.test.mjs).

// The concatenated delta.content of a chat stream; each(chunk), when given, sees every chunk first.
export async function chatText(stream, each) {
	let text = '';
	for await (const chunk of stream) {
		if (each) each(chunk);
		text += chunk.choices[0]?.delta?.content ?? '';
	}
	return text;
}

// The concatenated text of a (legacy) completion stream.
export async function completionText(stream) {
	let text = '';
	for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
	return text;
}

// An AI SDK textStream's text and how many parts it came in.
export async function textParts(textStream) {
	let text = '';
	let parts = 0;
	for await (const delta of textStream) {
		text += delta;
		parts++;
	}
	return { text, parts };
}
