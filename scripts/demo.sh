#!/bin/sh
# The demo: start xenstored in a private run dir and drive it with Xen's own
# client tools, then restart it to show the tree survives.
set -e
cd "$(dirname "$0")/.."
RUNDIR=$(mktemp -d /tmp/xenia-demo.XXXXXX)
export XENIA_RUNDIR=$RUNDIR
export XENSTORED_PATH=$RUNDIR/xenstored/socket
XSD=build/xenstored
PID=

start() {
	$XSD 2>>"$RUNDIR/xenstored.log" &
	PID=$!
	for _ in $(seq 50); do
		xenstore-exists / 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: xenstored did not start; see $RUNDIR/xenstored.log" >&2
	exit 1
}
stop() { [ -n "$PID" ] && kill "$PID" && wait "$PID" 2>/dev/null; PID=; }
trap 'stop; rm -rf "$RUNDIR"' EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { echo "\$ $*"; "$@"; }

say "xenstored in $RUNDIR"
start
say "Xen's tools against it (XENSTORED_PATH=$XENSTORED_PATH)"
run xenstore-write /vm/demo/name demo-guest /vm/demo/memory 256
run xenstore-write /local/domain/0/device/vbd/51712/state 1
run xenstore-chmod /vm/demo n0 r0
run xenstore-ls -p /
say "an owner that is not a running domain is refused, as Xen does"
run xenstore-chmod /vm/demo n7 || true
run xenstore-read /vm/demo/name
run xenstore-list /vm/demo
say "a watch sees a change"
xenstore-watch -n 2 /vm/demo >"$RUNDIR/watch.out" &
WPID=$!
sleep 0.3
run xenstore-write /vm/demo/memory 512
wait $WPID || true
echo "xenstore-watch printed:"; sed 's/^/  /' "$RUNDIR/watch.out"
say "restart (kill -9): the tree survives"
kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=
start
run xenstore-read /vm/demo/memory
say "Xen's own test-xenstore against it"
run /usr/lib/xen-4.17/bin/test-xenstore
stop

say "xenia-vmm alone boots the test guest on /dev/kvm; its console follows"
if [ ! -c /dev/kvm ]; then
	echo "no /dev/kvm here: skipping the guests"
	say "done"
	exit 0
fi
run build/xenia-vmm --kernel build/guest/test-guest.elf --memory 64 \
	--vcpus 1 --cmdline test=boot
echo "(exit status $?: poweroff)"

say "xend and xm: xend starts its own xenstored in $RUNDIR"
XEND_PID=
stop_xend() {
	[ -n "$XEND_PID" ] && kill "$XEND_PID" 2>/dev/null && wait "$XEND_PID"
	XEND_PID=
	[ -f "$RUNDIR/xenstored/pid" ] && kill "$(cat "$RUNDIR/xenstored/pid")" \
		2>/dev/null
	true
}
trap 'stop_xend; stop; rm -rf "$RUNDIR"' EXIT INT TERM
XENIA_RELOCATION_PORT=18011 build/xend &
XEND_PID=$!
i=0
until build/xm list >/dev/null 2>&1 || [ $i -ge 50 ]; do
	i=$((i + 1)); sleep 0.1
done
XM=build/xm
say "xm create -c examples/demo.cfg: the domain's console stays attached"
# stdin is a pipe we hold open: xm relays until the domain ends.
mkfifo "$RUNDIR/console.in"
$XM create -c examples/demo.cfg <"$RUNDIR/console.in" &
CPID=$!
exec 3>"$RUNDIR/console.in"
sleep 1
run $XM list
run $XM vcpu-list demo
say "the balloon: mem-set writes memory/target, the guest gives memory back"
run $XM mem-set demo 24
sleep 0.5
run $XM list demo
run $XM pause demo
run $XM list demo
run $XM unpause demo
say "xm shutdown -w: control/shutdown, as Xen does"
run $XM shutdown -w demo
exec 3>&-
wait $CPID || true

say "a domain with a disk and a vif: every frontend, then poweroff"
truncate -s 16M /tmp/xenia-disk.img
run $XM create examples/devices.cfg
run $XM block-list devices
run $XM network-list devices
i=0
while $XM domid devices >/dev/null 2>&1 && [ $i -lt 300 ]; do
	i=$((i + 1)); sleep 0.1
done
log=$(ls "$RUNDIR"/log/vmm-*.log | tail -1)
grep -E "^(PASS|FAIL): (blk|net): " "$log" | head -6
echo "... $(grep -c '^PASS' "$log") checks passed," \
	"$(grep -c '^FAIL' "$log") failed"
rm -f /tmp/xenia-disk.img
run $XM list

say "live migration: a second host's daemons (another run dir) take a domain"
RUNDIR2=$(mktemp -d /tmp/xenia-demo2.XXXXXX)
XEND2_PID=
stop_xend2() {
	[ -n "$XEND2_PID" ] && kill "$XEND2_PID" 2>/dev/null && wait "$XEND2_PID"
	XEND2_PID=
	[ -f "$RUNDIR2/xenstored/pid" ] &&
		kill "$(cat "$RUNDIR2/xenstored/pid")" 2>/dev/null
	rm -rf "$RUNDIR2"
}
trap 'stop_xend2; stop_xend; stop; rm -rf "$RUNDIR"' EXIT INT TERM
XENIA_RUNDIR=$RUNDIR2 XENIA_RELOCATION_PORT=18012 build/xend &
XEND2_PID=$!
i=0
until XENIA_RUNDIR=$RUNDIR2 $XM list >/dev/null 2>&1 || [ $i -ge 50 ]; do
	i=$((i + 1)); sleep 0.1
done
run $XM create examples/demo.cfg
sleep 1
run $XM migrate -l demo 127.0.0.1:18012
echo "here:"; $XM list
echo "there (XENIA_RUNDIR=$RUNDIR2):"; XENIA_RUNDIR=$RUNDIR2 $XM list
XENIA_RUNDIR=$RUNDIR2 $XM shutdown -w demo
stop_xend2
say "stopping xend and xenstored"
stop_xend
say "done"
