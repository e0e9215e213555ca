#!/bin/sh
# Run each libFuzzer harness for a share of the time over its corpus.
#   scripts/run-fuzz.sh BUILD_DIR [SECONDS] [HARNESS...]
# BUILD_DIR is a `meson setup -Dfuzz=true` build (CC=clang).  SECONDS
# (default 60) is split evenly between the harnesses (default: all).
# Seed corpora are generated into BUILD_DIR/corpus/<harness> when missing;
# what the fuzzer finds is added there, so later runs start further on.
# libFuzzer's output goes to BUILD_DIR/fuzz-logs/<harness>.log; crashing
# inputs to BUILD_DIR/fuzz-artifacts/.  Exits non-zero if any harness
# crashed, leaked or hung.  Extra libFuzzer flags: FUZZ_ARGS="...".
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
HARNESSES="fuzz_wire fuzz_ring fuzz_journal fuzz_elf fuzz_vmm_state fuzz_blkif fuzz_netif fuzz_domcfg fuzz_stream"

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [SECONDS] [HARNESS...]" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd) || exit 2
TOTAL=${2:-60}
[ $# -ge 2 ] && shift 2 || shift 1
[ $# -gt 0 ] && HARNESSES="$*"

n=$(echo $HARNESSES | wc -w)
PER=$((TOTAL / n))
[ "$PER" -ge 1 ] || PER=1

CORPUS=$BUILD/corpus
LOGS=$BUILD/fuzz-logs
ARTIFACTS=$BUILD/fuzz-artifacts
mkdir -p "$LOGS" "$ARTIFACTS"
for h in $HARNESSES; do
	if [ ! -d "$CORPUS/$h" ]; then
		/usr/bin/python3 "$REPO/scripts/make-fuzz-corpus.py" "$CORPUS" ||
			exit 2
		break
	fi
done

# fuzz_journal writes its files here: memory-backed, removed at the end.
FUZZ_TMPDIR=$(mktemp -d /dev/shm/xenia-fuzz.XXXXXX 2>/dev/null ||
	mktemp -d /tmp/xenia-fuzz.XXXXXX) || exit 2
export FUZZ_TMPDIR
trap 'rm -rf "$FUZZ_TMPDIR"' EXIT
trap 'exit 130' INT TERM
# Leaks count as crashes (libFuzzer's default with ASan); UB stops the run.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
for h in $HARNESSES; do
	bin=$BUILD/fuzz/$h
	log=$LOGS/$h.log
	if [ ! -x "$bin" ]; then
		echo "$h: not built ($bin)"
		failed=1
		continue
	fi
	stamp=$LOGS/.$h.start
	: >"$stamp"
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
	"$bin" -max_total_time="$PER" -rss_limit_mb=2048 -timeout=30 \
		-print_final_stats=1 -artifact_prefix="$ARTIFACTS/$h-" \
		${FUZZ_ARGS:-} "$CORPUS/$h" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "$h: ${runs:-?} runs, no crashes"
	else
		failed=1
		echo "$h: FAILED (exit $rc) after ${runs:-?} runs; log $log"
		for a in $(find "$ARTIFACTS" -name "$h-*" -newer "$stamp"); do
			echo "  reproducer: $a  (run: $bin $a)"
		done
		# The report's first lines, the stack's top and the summary.
		awk '/runtime error|ERROR: [A-Za-z]+Sanitizer/ { p = 1 }
			/ERROR: libFuzzer|^fuzz_[a-z]+: / { p = 1 }
			p && n < 14 { print; n++; next }
			/^SUMMARY/' "$log" |
			sed -e "s#[^ ]*$REPO/##g" -e 's/ (BuildId: [0-9a-f]*)//' \
				-e 's/0x[0-9a-f]* in //' -e 's/^/  | /'
	fi
	rm -f "$stamp"
done
exit $failed
