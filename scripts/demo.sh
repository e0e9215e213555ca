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

say "xenia-vmm boots the test guest on /dev/kvm; its console follows"
if [ -c /dev/kvm ]; then
	run build/xenia-vmm --kernel build/guest/test-guest.elf --memory 64 \
		--vcpus 1 --cmdline test=boot
	echo "(exit status $?: poweroff)"
	run build/xenia-vmm --kernel build/guest/test-guest.elf --memory 64 \
		--vcpus 1
	echo "(exit status $?: every check passed, poweroff)"
else
	echo "no /dev/kvm here: skipping the guest"
fi
say "done"
