#!/bin/sh
# Xenia's xenstored side by side with Xen's C xenstored, measured with
# xsbench (a libxenstore client) in one run; see README.md.
#   bench/xenstore/run.sh
# Environment (all optional):
#   XENSTORED_BIN  our daemon (default build/xenstored)
#   BUILD          where xsbench is built and results kept
#                  (default: the directory of XENSTORED_BIN)
#   ROUNDS         alternating rounds per daemon (default 5)
#   DURATION       seconds per xsbench run (default 2)
#   CLIENTS        client counts (default 1,4)
#   PLACEMENT      1cpu (default), split, or "1cpu split"
# Prints figures only: a benchmark does not pass or fail.
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=$(cd "$REPO/../shared/peers/xenstore" && pwd)
XSD=${XENSTORED_BIN:-$REPO/build/xenstored}
case "$XSD" in /*) ;; *) XSD=$REPO/$XSD ;; esac
BUILD=${BUILD:-$(dirname "$XSD")}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-2}
CLIENTS=${CLIENTS:-1,4}
PLACEMENT=${PLACEMENT:-1cpu}
XSBENCH=$BUILD/xsbench
NULLXS=$BUILD/nullxs
OUT=$BUILD/bench-xenstore

if [ ! -x "$XSD" ]; then
	echo "run.sh: no daemon at $XSD (ninja -C build)" >&2
	exit 2
fi
if [ ! -x "$XSBENCH" ] || [ "$PEERS/xsbench.c" -nt "$XSBENCH" ]; then
	gcc -O2 -Wall -o "$XSBENCH" "$PEERS/xsbench.c" -lxenstore -lpthread -lm
fi
if [ ! -x "$NULLXS" ] || [ "$REPO/bench/xenstore/nullxs.c" -nt "$NULLXS" ]; then
	gcc -O2 -Wall -o "$NULLXS" "$REPO/bench/xenstore/nullxs.c"
fi
rm -rf "$OUT"
mkdir -p "$OUT"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/xenia-bench.XXXXXX")
OURS_PID=
C_PID=
NULL_PID=
stop() {
	if [ -n "$OURS_PID" ] && kill "$OURS_PID" 2>/dev/null; then
		wait "$OURS_PID" 2>/dev/null || :
	fi
	[ -z "$C_PID" ] || kill "$C_PID" 2>/dev/null || :
	[ -z "$NULL_PID" ] || kill "$NULL_PID" 2>/dev/null || :
	OURS_PID=
	C_PID=
	NULL_PID=
	rm -rf "$TMP"
}
trap stop EXIT
trap 'exit 130' INT TERM

wait_up() { # SOCKET LOG
	for _ in $(seq 50); do
		XENSTORED_PATH=$1 xenstore-exists / 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run.sh: daemon on $1 did not come up; see $2" >&2
	cat "$2" >&2
	exit 2
}

# Both daemons live on CPU 0 for the whole run.
XENIA_RUNDIR=$TMP/ours taskset -c 0 "$XSD" 2>"$TMP/ours.log" &
OURS_PID=$!
OURS_SOCK=$TMP/ours/xenstored/socket
wait_up "$OURS_SOCK" "$TMP/ours.log"

"$PEERS/start-ref.sh" c "$TMP/c" >/dev/null
C_PID=$(cat "$TMP/c/daemon.pid")
C_SOCK=$TMP/c/socket
taskset -a -pc 0 "$C_PID" >/dev/null

# The no-op server: what a daemon that costs nothing would reach.
NULL_SOCK=$TMP/null.sock
taskset -c 0 "$NULLXS" "$NULL_SOCK" &
NULL_PID=$!
wait_up "$NULL_SOCK" /dev/null

echo "xenstore bench: $ROUNDS rounds x ${DURATION}s, clients $CLIENTS," \
	"placement $PLACEMENT, $(date -u +%FT%TZ)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  Xenia: $XSD"
echo "  C:     /usr/lib/xen-4.17/bin/xenstored (via $PEERS/start-ref.sh)"

# Rounds alternate ours, C, ours, C... so drift hits both alike.
for place in $PLACEMENT; do
	case $place in
	1cpu) pin=0 ;; # clients share the daemon's CPU
	split) pin=1 ;; # every request is a cross-CPU wake-up
	*) echo "run.sh: unknown placement $place" >&2; exit 2 ;;
	esac
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		for d in ours c null; do
			tests=write,read,dir,tx10,watch
			case $d in
			ours) sock=$OURS_SOCK ;;
			c) sock=$C_SOCK ;;
			null) sock=$NULL_SOCK; tests=write,read,dir,tx10 ;;
			esac
			XENSTORED_PATH=$sock taskset -c $pin "$XSBENCH" \
				-t $tests -n "$CLIENTS" -r 1 -d "$DURATION" \
				>"$OUT/$place-$d-$r.txt" 2>&1 || true
		done
		r=$((r + 1))
	done
done

# xsbench prints "test N ops/s [min .. max] p50 p99 conflicts errors".
for place in $PLACEMENT; do
	for f in "$OUT/$place"-*.txt; do
		d=$(basename "$f" .txt | cut -d- -f2)
		awk -v d="$d" '$2 ~ /^[0-9]+$/ && $5 == ".." {
			print d, $1, $2, $3, $7, $8, $10 }' "$f"
	done | awk -v place="$place" -v rounds="$ROUNDS" '
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
	function add(key, x) { val[key, ++cnt[key]] = x }
	{
		add($1 " " $2 " " $3 " ops", $4)
		add($1 " " $2 " " $3 " p50", $5)
		add($1 " " $2 " " $3 " p99", $6)
		err[$1] += $7
		if (!seen[$3]++)
			ns[++nn] = $3
	}
	END {
		split("write read dir tx10 watch", tests, " ")
		label["write"] = "write"
		label["read"] = "read"
		label["dir"] = "directory (1000 children)"
		label["tx10"] = "transaction (10 writes)"
		label["watch"] = "watch events"
		printf "\nplacement %s: ops/s, median of %d rounds\n", place, rounds
		printf "%-27s %3s %10s %10s %8s %10s\n", "test", "N", "Xenia",
			"C", "Xenia/C", "no-op/C"
		for (t = 1; t <= 5; t++)
			for (k = 1; k <= nn; k++) {
				o = median("ours " tests[t] " " ns[k] " ops")
				c = median("c " tests[t] " " ns[k] " ops")
				z = median("null " tests[t] " " ns[k] " ops")
				if (o < 0 && c < 0)
					continue
				printf "%-27s %3s %10.0f %10.0f %7.2fx %9s\n",
					label[tests[t]], ns[k], o, c,
					(c > 0 ? o / c : 0),
					(z > 0 && c > 0 ? sprintf("%.2fx", z / c) : "-")
			}
		printf "%-27s %3s %13s %13s\n", "watch latency (us)", "N",
			"Xenia", "C"
		for (k = 1; k <= nn; k++)
			printf "%-27s %3s %13s %13s\n", "  median / p99", ns[k],
				sprintf("%.1f/%.1f",
					median("ours watch " ns[k] " p50"),
					median("ours watch " ns[k] " p99")),
				sprintf("%.1f/%.1f",
					median("c watch " ns[k] " p50"),
					median("c watch " ns[k] " p99"))
		if (err["ours"] || err["c"])
			printf "client errors: Xenia %d, C %d (see raw output)\n",
				err["ours"], err["c"]
	}'
done
echo
echo "raw xsbench output: $OUT"
echo "goal: >= 1.5x on every row, watch latency no worse"
echo "no-op/C: a server that answers at once and stores nothing, over C;"
echo "  no daemon can beat that ratio with this client on this machine"
