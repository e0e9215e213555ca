# Sourced by the device benches (bench/blk, bench/net) after guest-env.sh:
#   bench_build_helpers NAME:SRC...  builds bench helpers into $BUILD when
#                                    their source is newer (SRC under bench/)
#   bench_xenstored                  a fresh $OUT with our xenstored serving
#                                    $OUT/run (XENIA_RUNDIR exported); its
#                                    pid in XSD_PID, for the caller's trap
bench_build_helpers() {
	for src in "$@"; do
		bin=$BUILD/${src%%:*}
		if [ ! -x "$bin" ] || [ "$REPO/bench/${src#*:}" -nt "$bin" ]; then
			gcc -O2 -Wall -o "$bin" "$REPO/bench/${src#*:}"
		fi
	done
}

bench_xenstored() {
	rm -rf "$OUT"
	mkdir -p "$OUT/run"
	export XENIA_RUNDIR="$OUT/run"
	"$XSD" >"$OUT/xenstored.log" 2>&1 &
	XSD_PID=$!
	i=0
	while [ ! -S "$OUT/run/xenstored/socket" ]; do
		i=$((i + 1))
		if [ "$i" -ge 100 ]; then
			echo "run.sh: xenstored did not start" >&2
			exit 1
		fi
		sleep 0.05
	done
}
