#!/bin/sh
# Block I/O through the PV block device against the host doing the same
# I/O on the same image directly, in one run; see README.md.
#   bench/blk/run.sh
# The guest (test=blkbench) writes 16 MiB sequentially in 256 KiB calls,
# flushes, reads it back, then does 2000 random 4 KiB reads; hostio does
# the same with pread/pwrite.  Reported: rates on each side, the host CPU
# our backend spent per request (the event-loop thread's CPU time, which
# carries blkback), the host's own CPU per request doing the I/O itself,
# and event-channel notifications per request.
# Environment (all optional):
#   XENIA_VMM, XENIA_TEST_GUEST  as for the other benches
#   XENSTORED_BIN  our xenstored (default: next to the VMM)
#   BUILD          where hostio is built and results kept
#   ROUNDS         runs of each side (default 3)
# Prints figures only: a benchmark does not pass or fail.
set -eu
. "$(dirname "$0")/../guest-env.sh"
BUILD=${BUILD:-$(dirname "$VMM")}
XSD=${XENSTORED_BIN:-$(dirname "$VMM")/xenstored}
ROUNDS=${ROUNDS:-3}
HOSTIO=$BUILD/hostio
TSCHZ=$BUILD/tschz
OUT=$BUILD/bench-blk

. "$(dirname "$0")/../devices-env.sh"
bench_build_helpers hostio:blk/hostio.c tschz:hypercall/tschz.c
trap 'kill $XSD_PID 2>/dev/null; wait $XSD_PID 2>/dev/null || true' EXIT
bench_xenstored

HZ=$("$TSCHZ")
echo "blk bench: $ROUNDS rounds, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	img=$OUT/disk-$r.img
	rm -f "$img"
	truncate -s 32M "$img"
	"$VMM" --kernel "$GUEST" --memory 64 --xenstore --domid "$r" \
		--disk "file:$img,xvda,w" --cmdline test=blkbench \
		>"$OUT/guest-$r.txt" 2>&1 ||
		echo "run.sh: round $r: xenia-vmm failed; see $OUT/guest-$r.txt" >&2
	rm -f "$img"
	truncate -s 32M "$img"
	"$HOSTIO" "$img" >"$OUT/host-$r.txt"
	rm -f "$img"
	r=$((r + 1))
done

cat "$OUT"/guest-*.txt "$OUT"/host-*.txt | awk -v hz="$HZ" -v rounds="$ROUNDS" '
function kv(s, k,   i, n, a) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++)
		if (index(a[i], k "=") == 1)
			return substr(a[i], length(k) + 2)
	return ""
}
/^blkbench: / && $2 != "xvda" {
	g_bytes[$2] += kv($0, "bytes"); g_ops[$2] += kv($0, "ops")
	g_s[$2] += kv($0, "cycles") / hz; kinds[$2] = 1
}
/^hostio: / && /ns=/ {
	h_bytes[$2] += kv($0, "bytes"); h_ops[$2] += kv($0, "ops")
	h_s[$2] += kv($0, "ns") / 1e9
}
/^hostio: cpu_us=/ { h_cpu += kv($0, "cpu_us"); h_req += kv($0, "requests") }
/loop: .* ms of CPU/ { for (i = 1; i <= NF; i++) if ($i == "ms") loop_ms += $(i - 1) }
/vbd [0-9]+: .* requests/ {
	for (i = 1; i <= NF; i++) {
		if ($i == "requests") b_req += $(i - 1)
		if ($i == "notifications,") b_not += $(i - 1)
	}
}
END {
	printf "\n%-14s %16s %16s %12s\n", "kind", "guest (PV blk)", "host direct", "guest/host"
	n = split("seq-write seq-read rand-read-4k", order, " ")
	for (k = 1; k <= n; k++) {
		x = order[k]
		if (!(x in kinds)) continue
		if (x == "rand-read-4k") {
			g = g_ops[x] / g_s[x]; h = h_ops[x] / h_s[x]
			printf "%-14s %12.0f op/s %12.0f op/s %11.3fx\n", x, g, h, g / h
		} else {
			g = g_bytes[x] / g_s[x] / 1048576; h = h_bytes[x] / h_s[x] / 1048576
			printf "%-14s %12.1f MB/s %12.1f MB/s %11.3fx\n", x, g, h, g / h
		}
	}
	if (b_req && h_req) {
		printf "\nhost CPU per request: backend %.1f us (event-loop thread), host doing the I/O itself %.1f us: %.2fx\n", \
			loop_ms * 1000 / b_req, h_cpu / h_req, (loop_ms * 1000 / b_req) / (h_cpu / h_req)
		printf "event-channel notifications per request: %.2f (%d over %d requests)\n", b_not / b_req, b_not, b_req
	}
	printf "\nThe guest side is slow here because guest kernel code runs in KVM'"'"'s\n"
	printf "instruction emulator on this host; the CPU per request is the backend'"'"'s own.\n"
}'
echo "raw output: $OUT"
