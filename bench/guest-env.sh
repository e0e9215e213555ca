# Sourced by the benches that boot the test guest (bench/boot,
# bench/hypercall): sets REPO, VMM and GUEST from XENIA_VMM and
# XENIA_TEST_GUEST, and exits 2 unless both files and /dev/kvm are there.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VMM=${XENIA_VMM:-$REPO/build/xenia-vmm}
case "$VMM" in /*) ;; *) VMM=$REPO/$VMM ;; esac
GUEST=${XENIA_TEST_GUEST:-$(dirname "$VMM")/guest/test-guest.elf}
case "$GUEST" in /*) ;; *) GUEST=$REPO/$GUEST ;; esac
for f in "$VMM" "$GUEST"; do
	if [ ! -e "$f" ]; then
		echo "run.sh: $f is missing (ninja -C build)" >&2
		exit 2
	fi
done
if [ ! -e /dev/kvm ]; then
	echo "run.sh: /dev/kvm is missing" >&2
	exit 2
fi
