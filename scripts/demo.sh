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

	say "a domain with devices: XenStore ring, PV console, a disk, a vif"
	start
	truncate -s 16M "$RUNDIR/disk.img"
	build/xenia-vmm --kernel build/guest/test-guest.elf --memory 64 \
		--xenstore --name demo-dev --domid 5 \
		--disk "file:$RUNDIR/disk.img,xvda,w" \
		--vif mac=00:16:3e:00:00:05 \
		--cmdline 'test=idle' >"$RUNDIR/idle.out" 2>&1 &
	VPID=$!
	i=0
	until xenstore-read /local/domain/0/backend/vbd/5/51712/state \
		>/dev/null 2>&1 || [ $i -ge 50 ]; do
		i=$((i + 1)); sleep 0.1
	done
	echo "xenstore-ls /local/domain/5 (as libxl lays it out):"
	xenstore-ls -f /local/domain/5 | sed 's/^/  /' | head -40
	run xenstore-write /local/domain/5/control/shutdown poweroff
	wait $VPID
	echo "(exit status $?: the guest obeyed control/shutdown)"
	say "every frontend: console, XenStore, block, network (libslirp)"
	build/xenia-vmm --kernel build/guest/test-guest.elf --memory 64 \
		--cmdline 'test=devices ip=10.0.2.15 peer=10.0.2.2' \
		--xenstore --domid 6 --disk "file:$RUNDIR/disk.img,xvda,w" \
		--vif mac=00:16:3e:00:00:06 >"$RUNDIR/devices.out" 2>&1
	rc=$?
	grep -E "^(PASS|FAIL): (blk|net): " "$RUNDIR/devices.out" | head -8
	echo "... $(grep -c '^PASS' "$RUNDIR/devices.out") checks passed," \
		"$(grep -c '^FAIL' "$RUNDIR/devices.out") failed (exit status $rc)"
	stop
else
	echo "no /dev/kvm here: skipping the guest"
fi
say "done"
