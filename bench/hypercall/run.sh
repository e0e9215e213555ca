#!/bin/sh
# Hypercall round trips against the raw exit floor, both timed inside the
# test guest (test=hcbench) in one run; see README.md.
#   bench/hypercall/run.sh
# Environment (all optional):
#   XENIA_VMM         our VMM (default build/xenia-vmm)
#   XENIA_TEST_GUEST  the guest (default: guest/test-guest.elf next to the
#                     VMM)
#   BUILD             where the TSC helper is built and results kept
#                     (default: the directory of XENIA_VMM)
#   ROUNDS            guest runs (default 7); each times 20000 calls of each
#                     kind, interleaved in blocks of 1000
# Prints figures only: a benchmark does not pass or fail.
set -eu
. "$(dirname "$0")/../guest-env.sh"
BUILD=${BUILD:-$(dirname "$VMM")}
ROUNDS=${ROUNDS:-7}
TSCHZ=$BUILD/tschz
OUT=$BUILD/bench-hypercall

if [ ! -x "$TSCHZ" ] || [ "$REPO/bench/hypercall/tschz.c" -nt "$TSCHZ" ]; then
	gcc -O2 -Wall -o "$TSCHZ" "$REPO/bench/hypercall/tschz.c"
fi
rm -rf "$OUT"
mkdir -p "$OUT"

HZ=$("$TSCHZ")
echo "hypercall bench: $ROUNDS rounds x 20000 calls per kind, $(date -u +%FT%TZ)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  Xenia: $VMM"
echo "  guest: $GUEST test=hcbench"
echo "  TSC:   $(awk -v hz="$HZ" 'BEGIN { printf "%.1f MHz", hz / 1e6 }')" \
	"(measured on the host; the guest reads the same TSC)"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	if ! "$VMM" --kernel "$GUEST" --memory 64 --vcpus 1 \
		--cmdline test=hcbench >"$OUT/round-$r.txt" 2>&1; then
		echo "run.sh: round $r: xenia-vmm failed; see" \
			"$OUT/round-$r.txt" >&2
	fi
	r=$((r + 1))
done

# The guest prints "hcbench: KIND calls=N cycles=C" per kind and round.
cat "$OUT"/round-*.txt | awk -v hz="$HZ" -v rounds="$ROUNDS" '
function median(key, n, v, i, j, t) {
	n = cnt[key]
	if (!n)
		return -1
	for (i = 1; i <= n; i++)
		v[i] = val[key, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
$1 == "hcbench:" && $3 ~ /^calls=/ && $4 ~ /^cycles=/ {
	n = substr($3, 7); c = substr($4, 8)
	if (n > 0)
		val[$2, ++cnt[$2]] = c / n
}
END {
	if (!cnt["xen_version"] || !cnt["raw"]) {
		print "no hcbench figures: see the raw output"
		exit
	}
	printf "\nper round trip, median of %d rounds (%d with figures)\n",
		rounds, cnt["raw"]
	printf "%-40s %10s %8s %10s %8s\n", "", "cycles", "us", "per s",
		"vs raw"
	split("xen_version stub raw", kinds, " ")
	label["xen_version"] = "hypercall (xen_version XENVER_version)"
	label["stub"] = "stub exit (hypercall wrapper, no-op stub)"
	label["raw"] = "raw exit (out 0x80): the floor"
	floor = median("raw")
	for (k = 1; k <= 3; k++) {
		c = median(kinds[k])
		if (c < 0)
			continue
		rate[kinds[k]] = hz / c
		printf "%-40s %10.0f %8.2f %10.0f %7.2fx\n", label[kinds[k]],
			c, c / hz * 1e6, hz / c, c / floor
	}
	printf "\ngoal: hypercalls/s within 10%% of raw exits/s: " \
		"%.0f / %.0f = %.2f of the floor\n", rate["xen_version"],
		rate["raw"], rate["xen_version"] / rate["raw"]
	printf "the VMM'"'"'s share: hypercalls/s against the same guest path " \
		"with a no-op exit (stub): %.0f / %.0f = %.3f\n",
		rate["xen_version"], rate["stub"],
		rate["xen_version"] / rate["stub"]
	printf "(the distance from stub to raw is guest kernel code run by " \
		"this host'"'"'s KVM\ninstruction emulator: the call, the stub'"'"'s " \
		"mov and ret, the wrapper)\n"
}'
echo
echo "raw guest output: $OUT"
