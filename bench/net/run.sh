#!/bin/sh
# Packets through the PV network device against the host sending the same
# frames through a tap of its own, on one bridge in a private network
# namespace, in one run; see README.md.
#   bench/net/run.sh           (root: namespaces, bridges, taps)
# The guest (test=netbench) sends 2000 UDP frames of 64 bytes, 2000 of
# 1400, then 200 echo round trips to the bridge's address; hostnet writes
# the same frames into its own tap.  Reported: packet rates on each side,
# the host CPU our backend spent per packet (the event-loop thread, which
# carries netback and the tap), the host's own CPU per packet, and
# event-channel notifications per packet.
# Environment (all optional):
#   XENIA_VMM, XENIA_TEST_GUEST  as for the other benches
#   XENSTORED_BIN  our xenstored (default: next to the VMM)
#   BUILD          where hostnet is built and results kept
#   ROUNDS         runs of each side (default 3)
# Prints figures only: a benchmark does not pass or fail.
set -eu
. "$(dirname "$0")/../guest-env.sh"
BUILD=${BUILD:-$(dirname "$VMM")}
XSD=${XENSTORED_BIN:-$(dirname "$VMM")/xenstored}
ROUNDS=${ROUNDS:-3}
OUT=$BUILD/bench-net
NS=xbn$$
BR=xbnbr$$

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root (a network namespace, a bridge, taps)" >&2
	exit 2
fi
. "$(dirname "$0")/../devices-env.sh"
bench_build_helpers hostnet:net/hostnet.c tschz:hypercall/tschz.c
XSD_PID=
cleanup() {
	[ -z "$XSD_PID" ] || kill $XSD_PID 2>/dev/null || true
	[ -z "$XSD_PID" ] || wait $XSD_PID 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add "$BR" type bridge
ip -n "$NS" addr add 10.0.3.1/24 dev "$BR"
ip -n "$NS" link set "$BR" up
bench_xenstored

HZ=$("$BUILD/tschz")
echo "net bench: $ROUNDS rounds, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	ip netns exec "$NS" "$VMM" --kernel "$GUEST" --memory 64 --xenstore \
		--domid "$r" --vif "mac=00:16:3e:00:00:0$r,bridge=$BR" \
		--cmdline "test=netbench ip=10.0.3.15 peer=10.0.3.1" \
		>"$OUT/guest-$r.txt" 2>&1 ||
		echo "run.sh: round $r: xenia-vmm failed; see $OUT/guest-$r.txt" >&2
	ip netns exec "$NS" "$BUILD/hostnet" "xbh$r" "$BR" 10.0.3.16 10.0.3.1 \
		>"$OUT/host-$r.txt"
	ip -n "$NS" link del "xbh$r" 2>/dev/null || true
	r=$((r + 1))
done

cat "$OUT"/guest-*.txt "$OUT"/host-*.txt | awk -v hz="$HZ" '
function kv(s, k,   i, n, a) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++)
		if (index(a[i], k "=") == 1)
			return substr(a[i], length(k) + 2)
	return ""
}
/^netbench: / && /packets=/ {
	g_n[$2] += kv($0, "packets"); g_s[$2] += kv($0, "cycles") / hz; kinds[$2] = 1
}
/^hostnet: udp/ { h_n[$2] += kv($0, "packets"); h_s[$2] += kv($0, "ns") / 1e9 }
/^hostnet: cpu_us=/ { h_cpu += kv($0, "cpu_us"); h_pkt += kv($0, "packets") }
/loop: .* ms of CPU/ { for (i = 1; i <= NF; i++) if ($i == "ms") loop_ms += $(i - 1) }
/vif [0-9]+: tx/ {
	for (i = 1; i <= NF; i++) {
		if ($i == "tx") tx += $(i + 1)
		if ($i == "rx") rx += $(i + 1)
		if ($i == "notifications,") nt += $(i - 1)
	}
}
END {
	printf "\n%-10s %18s %18s %12s\n", "kind", "guest (PV net)", "host (own tap)", "guest/host"
	n = split("udp-64 udp-1400 ping", order, " ")
	for (k = 1; k <= n; k++) {
		x = order[k]
		if (!(x in kinds)) continue
		g = g_n[x] / g_s[x]
		if (x in h_n) {
			h = h_n[x] / h_s[x]
			printf "%-10s %13.0f pkt/s %13.0f pkt/s %11.3fx\n", x, g, h, g / h
		} else {
			printf "%-10s %13.0f pkt/s %18s\n", x, g, "(round trips)"
		}
	}
	if (tx + rx && h_pkt) {
		printf "\nhost CPU per packet: backend %.1f us (event-loop thread, %d packets), host writing its own tap %.1f us: %.2fx\n", \
			loop_ms * 1000 / (tx + rx), tx + rx, h_cpu / h_pkt, (loop_ms * 1000 / (tx + rx)) / (h_cpu / h_pkt)
		printf "event-channel notifications per packet: %.2f\n", nt / (tx + rx)
	}
	printf "\nGuest kernel code runs in KVM'"'"'s instruction emulator on this host,\n"
	printf "so the guest'"'"'s rates are low; the CPU per packet is the backend'"'"'s own.\n"
}'
echo "raw output: $OUT"
