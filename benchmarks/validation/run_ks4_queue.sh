#!/usr/bin/env bash
# Sort the Kilosort 4 validation cases one after the other (one torch thread, niced).
#
#   nohup benchmarks/validation/run_ks4_queue.sh > /dev/null 2>&1 &
#
# Run from the repository root. A case is skipped when tests/data/ks4_cases/<case>/
# already holds spike_times.npy, ops.npy and ground_truth.npz. Progress goes to
# benchmarks/_data/validation/ks4_queue.log; each case's full stdout/stderr to
# benchmarks/_data/validation/ks4_<case>.out. The scratch binary of a case
# (/work/ks4_scratch/<case>/recording.bin) and the big Kilosort pc_features.npy are
# deleted once the case has been sorted and copied.
set -u
cd "$(dirname "$0")/../.."
PY=${KS4_PYTHON:-/work/venvs/ks4/bin/python}
SCRATCH=${KS4_SCRATCH:-/work/ks4_scratch}
OUTROOT=tests/data/ks4_cases
LOGDIR=benchmarks/_data/validation
LOG=$LOGDIR/ks4_queue.log
mkdir -p "$LOGDIR" "$OUTROOT" "$SCRATCH"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1

# case name | options for tests/data/make_ks4_fixture.py (order = run order)
CASES=(
  "step50|--n-units 16 --drift step:0.5:30"
  "stable|--n-units 16 --drift none"
  "shift25|--n-units 16 --drift none --offset-um 25"
  "other_units|--n-units 16 --drift none --unit-seed 1"
  "step25|--n-units 16 --drift step:0.25:30"
  "step75|--n-units 16 --drift step:0.75:30"
  "zigzag15|--n-units 16 --drift zigzag:30:15"
)

log() { echo "$(date -u +%FT%TZ) $*" | tee -a "$LOG"; }
log "queue start (pid $$)"
for entry in "${CASES[@]}"; do
  name=${entry%%|*}; opts=${entry#*|}
  out=$OUTROOT/$name
  if [[ -f $out/spike_times.npy && -f $out/ops.npy && -f $out/ground_truth.npz ]]; then
    log "$name: already done, skipped"; continue
  fi
  log "$name: start ($opts)"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  if nice -n 10 "$PY" tests/data/make_ks4_fixture.py --scratch "$SCRATCH/$name" \
       --out "$out" $opts > "$LOGDIR/ks4_$name.out" 2>&1; then
    cp "$SCRATCH/$name/fixture_info.json" "$out/fixture_info.json"
    rm -f "$SCRATCH/$name/recording.bin" "$SCRATCH/$name/kilosort4/pc_features.npy"
    kb=$(du -sk "$out" | cut -f1)
    ok=$([[ $kb -lt 600 ]] && echo OK || echo "TOO BIG")
    log "$name: done in $(( $(date +%s) - t0 )) s, folder ${kb} kB ($ok)"
  else
    log "$name: FAILED after $(( $(date +%s) - t0 )) s (see $LOGDIR/ks4_$name.out)"
  fi
done
log "queue end"
