#!/bin/sh
# Boot time and peak RSS: xenia-vmm against QEMU (microvm, KVM) booting the
# same test guest with test=boot, in one run; see README.md.
#   bench/boot/run.sh
# Environment (all optional):
#   XENIA_VMM         our VMM (default build/xenia-vmm)
#   XENIA_TEST_GUEST  the guest (default: guest/test-guest.elf next to the
#                     VMM)
#   BUILD             where the launch helper is built and results kept
#                     (default: the directory of XENIA_VMM)
#   RUNS              runs per VMM, alternating (default 20, at least 10)
#   QEMU              the QEMU binary (default qemu-system-x86_64)
# Prints figures only: a benchmark does not pass or fail.
set -eu
. "$(dirname "$0")/../guest-env.sh"
BUILD=${BUILD:-$(dirname "$VMM")}
RUNS=${RUNS:-20}
QEMU=${QEMU:-qemu-system-x86_64}
LAUNCH=$BUILD/launch
OUT=$BUILD/bench-boot

[ "$RUNS" -ge 10 ] || RUNS=10
# QEMU is the peer; install it the way `make deps` installs the rest.
if ! command -v "$QEMU" >/dev/null 2>&1; then
	if ! dpkg-query -W -f='${Status}' qemu-system-x86 2>/dev/null |
		grep -q "ok installed" && [ "$(id -u)" = 0 ]; then
		echo "run.sh: installing qemu-system-x86"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends qemu-system-x86 >/dev/null
	fi
	if ! command -v "$QEMU" >/dev/null 2>&1; then
		echo "run.sh: no $QEMU (apt-get install qemu-system-x86)" >&2
		exit 2
	fi
fi
if [ ! -x "$LAUNCH" ] || [ "$REPO/bench/boot/launch.c" -nt "$LAUNCH" ]; then
	gcc -O2 -Wall -o "$LAUNCH" "$REPO/bench/boot/launch.c"
fi
rm -rf "$OUT"
mkdir -p "$OUT"

QEMU_MACHINE="-M microvm,x-option-roms=off,isa-serial=on -nodefaults
	-no-user-config -nographic -serial stdio
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 64"
run_xenia() { # OUTFILE
	"$LAUNCH" "$1" "$VMM" --kernel "$GUEST" --memory 64 --vcpus 1 \
		--cmdline test=boot 2>>"$OUT/xenia.log"
}
run_qemu() { # OUTFILE
	# shellcheck disable=SC2086 # QEMU_MACHINE is a word list
	"$LAUNCH" "$1" "$QEMU" $QEMU_ACCEL $QEMU_MACHINE \
		-kernel "$GUEST" -append test=boot 2>>"$OUT/qemu.log"
}
# A guest that booted printed its line; isa-debug-exit makes QEMU exit 1
# for a poweroff, xenia-vmm exits 0.
booted() { # OUTFILE
	grep -q "xenia test guest: boot" "$1"
}

# KVM for QEMU if it works here (kvm_pvm is not a stock KVM), else TCG.
QEMU_ACCEL=-enable-kvm
run_qemu "$OUT/probe.txt" >/dev/null || :
if ! booted "$OUT/probe.txt"; then
	QEMU_ACCEL="-accel tcg"
	echo "run.sh: QEMU with -enable-kvm did not boot the guest (see" \
		"$OUT/qemu.log); falling back to TCG" >&2
	run_qemu "$OUT/probe.txt" >/dev/null || :
fi
# One untimed run of ours too: both start with a warm page cache.
run_xenia "$OUT/probe.txt" >/dev/null || :

echo "boot bench: $RUNS runs each, alternating, test=boot, 64 MiB, 1 vCPU," \
	"$(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  Xenia: $VMM"
echo "  QEMU:  $(command -v "$QEMU") $QEMU_ACCEL" \
	"($("$QEMU" --version | head -n 1))"
echo "  guest: $GUEST"
[ "$QEMU_ACCEL" = -enable-kvm ] ||
	echo "  NOTE: QEMU runs under TCG here, not KVM: -enable-kvm failed"

# Lines of results.txt: vmm first_byte_us exit_us maxrss_kib status ok
i=1
while [ "$i" -le "$RUNS" ]; do
	for vmm in xenia qemu; do
		f=$OUT/$vmm-$i.txt
		r=$(run_$vmm "$f") || r="-1 -1 0 255"
		if booted "$f"; then ok=1; else ok=0; fi
		echo "$vmm $r $ok" >>"$OUT/results.txt"
	done
	i=$((i + 1))
done

awk '
function sorted(key, v, n, i, j, t) {
	n = cnt[key]
	for (i = 1; i <= n; i++)
		v[i] = val[key, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return n
}
function median(key, v, n) {
	n = sorted(key, v)
	if (!n)
		return -1
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function p90(key, v, n, k) {
	n = sorted(key, v)
	if (!n)
		return -1
	k = int(0.9 * n + 0.999999)  # nearest rank
	return v[k < 1 ? 1 : k]
}
function add(key, x) { val[key, ++cnt[key]] = x }
function ms(us) { return us < 0 ? "-" : sprintf("%.1f", us / 1000) }
{
	if ($6 != 1 || $2 < 0) {
		bad[$1]++
		next
	}
	add($1 " first", $2)
	add($1 " exit", $3)
	add($1 " rss", $4)
}
END {
	printf "\n%-34s %14s %14s %9s\n", "ms (median / p90)", "Xenia", "QEMU",
		"Xenia/QEMU"
	split("first exit", what, " ")
	label["first"] = "launch to first console byte"
	label["exit"] = "launch to exit"
	for (w = 1; w <= 2; w++) {
		xm = median("xenia " what[w]); qm = median("qemu " what[w])
		printf "%-34s %14s %14s %8.2fx\n", label[what[w]],
			ms(xm) " / " ms(p90("xenia " what[w])),
			ms(qm) " / " ms(p90("qemu " what[w])),
			(qm > 0 ? xm / qm : 0)
		r[what[w]] = qm > 0 ? xm / qm : 0
	}
	xr = median("xenia rss"); qr = median("qemu rss")
	printf "%-34s %14.1f %14.1f %8.2fx\n", "peak RSS, MiB (median)",
		xr / 1024, qr / 1024, (qr > 0 ? xr / qr : 0)
	if (bad["xenia"] || bad["qemu"])
		printf "runs that did not boot (left out): Xenia %d, QEMU %d\n",
			bad["xenia"], bad["qemu"]
	printf "goal: first byte <= 0.50x QEMU'"'"'s: %.2fx; exit: %.2fx\n",
		r["first"], r["exit"]
	printf "goal: VMM peak RSS <= 5 MiB: %.1f MiB\n", xr / 1024
}' "$OUT/results.txt"
echo
echo "raw results (vmm first_byte_us exit_us maxrss_kib status booted):"
echo "  $OUT/results.txt"
