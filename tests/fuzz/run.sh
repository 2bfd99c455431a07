#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/fuzz/run.sh: build the libFuzzer targets and run each for a bounded time.
#
#   1. builds fuzz_request, fuzz_json, fuzz_conf, fuzz_sse, fuzz_netaddr, fuzz_body and fuzz_h1 in build-fuzz/
#      (CC=clang ../configure --enable-fuzzers: ASan + UBSan + libFuzzer);
#   2. replays every file of tests/fuzz/regressions/<target>/ once (inputs
#      that once crashed: they must not any more);
#   3. fuzzes each target for FUZZ_SECONDS (default 30) from a temporary copy
#      of tests/fuzz/corpus/<target>/, so the committed corpus never changes.
#
# One line per target and per regression file, then "N passed, N failed".
# Exits non-zero on any crash, leak, UBSan report or timeout, after printing
# where the input was saved and the sanitizer's report.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TARGETS (a subset, e.g. "json
# sse"), FUZZ_BUILD_DIR (default build-fuzz), FUZZ_ARTIFACTS (where crashing
# inputs are kept, default var/fuzz), FUZZ_NO_BUILD=1 (use the binaries as
# they are), FUZZ_JOBS (make -j, default 2).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_DIR=$ROOT/tests/fuzz
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
ARTIFACTS=${FUZZ_ARTIFACTS:-$ROOT/var/fuzz}
read -r -a TARGETS <<<"${FUZZ_TARGETS:-request json conf sse netaddr body h1}"

say() { printf 'fuzz: %s\n' "$*" >&2; }

passed=0
failed=0
pass() { passed=$((passed + 1)); printf '%-44s ok%s\n' "$1" "${2:+ ($2)}"; }
fail() { failed=$((failed + 1)); printf '%-44s FAILED%s\n' "$1" "${2:+: $2}"; }
finish() {
	echo
	echo "${passed} passed, ${failed} failed"
	((failed == 0))
	exit
}

# UBSan recovers by default under -fsanitize=fuzzer-no-link: make every report fatal.
# Reports go to stderr (the log read below), whatever the caller had set.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:symbolize=1

# The part of a libFuzzer log worth reading: from the first report line on.
report() {
	local log=$1
	awk 'f || /^==[0-9]+==|^fuzz: |runtime error:|ERROR: libFuzzer|^SUMMARY:|ALARM: working on the last Unit/ { f = 1 }
	     f { print; if (++n >= 120) { print "  [... see " FILENAME "]"; exit } }' "$log" | sed 's/^/    /'
}

build() {
	command -v clang >/dev/null || { say "clang is not installed (apt-get install clang)"; return 1; }
	cd "$ROOT" || return 1
	if [[ ! -x configure || configure.ac -nt configure || Makefile.am -nt configure ]]; then
		say "autoreconf"
		autoreconf -fi >/dev/null 2>&1 || autoreconf -fi || return 1
	fi
	mkdir -p "$BUILD"
	if [[ ! -f $BUILD/Makefile || configure -nt $BUILD/Makefile ]] || ! grep -q 'fuzzer-no-link' "$BUILD/Makefile"; then
		say "configure in $BUILD"
		(cd "$BUILD" && CC=clang ../configure --enable-fuzzers -q) || return 1
	fi
	say "make"
	local bins=()
	for t in "${TARGETS[@]}"; do bins+=("fuzz_$t"); done
	make -C "$BUILD" -j"${FUZZ_JOBS:-2}" -s "${bins[@]}" >/dev/null 2>"$BUILD/fuzz-make.log" ||
		{ cat "$BUILD/fuzz-make.log" >&2; return 1; }
}

if [[ -z ${FUZZ_NO_BUILD:-} ]]; then
	if ! build; then
		fail "build of the fuzz targets" "see the messages above"
		finish
	fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stackgate-fuzz.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$ARTIFACTS"

for t in "${TARGETS[@]}"; do
	bin=$BUILD/fuzz_$t
	if [[ ! -x $bin ]]; then
		fail "fuzz_$t" "$bin is missing"
		continue
	fi

	# The regressions: each once, each a test of its own.
	if [[ -d $FUZZ_DIR/regressions/$t ]]; then
		for f in "$FUZZ_DIR/regressions/$t"/*; do
			[[ -f $f ]] || continue
			name="regression $t/$(basename "$f")"
			log=$TMP/regression-$t-$(basename "$f").log
			if "$bin" -timeout=10 -rss_limit_mb=2048 "$f" >"$log" 2>&1; then
				pass "$name"
			else
				fail "$name" "input $f"
				report "$log"
			fi
		done
	fi

	# The fuzzing run, from a copy of the corpus.
	work=$TMP/corpus-$t
	art=$TMP/artifacts-$t/
	mkdir -p "$work" "$art"
	[[ -d $FUZZ_DIR/corpus/$t ]] && cp "$FUZZ_DIR/corpus/$t"/* "$work"/ 2>/dev/null
	log=$TMP/fuzz-$t.log
	"$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art" "$work" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
	crashes=("$art"*)
	if ((rc == 0)) && [[ ! -e ${crashes[0]} ]]; then
		pass "fuzz_$t" "${runs:-no stats}${cov:+, $cov}"
	else
		saved=()
		for c in "${crashes[@]}"; do
			[[ -e $c ]] || continue
			mkdir -p "$ARTIFACTS/$t"
			cp "$c" "$ARTIFACTS/$t/" && saved+=("$ARTIFACTS/$t/$(basename "$c")")
		done
		fail "fuzz_$t" "exit $rc; input saved as ${saved[*]:-(none written)}"
		report "$log"
		cp "$log" "$ARTIFACTS/fuzz-$t.log" 2>/dev/null && echo "    full log: $ARTIFACTS/fuzz-$t.log"
	fi
done

finish
