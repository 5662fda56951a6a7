#!/usr/bin/env bash
# The loop-simulator benchmark in a throwaway database, media folder and model folder.
#   benchmarks/simulate/run.sh OUT_DIR [manage.py simulate options...]
# e.g. benchmarks/simulate/run.sh benchmarks/simulate/results/n300 --galaxies 300 --seed 0
# The database lives in /dev/shm when there is one: SQLite commits there cost no disk sync.
set -euo pipefail
out="$(realpath -m "${1:?usage: run.sh OUT_DIR [simulate options]}")"
shift
here="$(cd "$(dirname "$0")/../.." && pwd)"
scratch_root=/dev/shm
[ -d "$scratch_root" ] && [ -w "$scratch_root" ] || scratch_root="${TMPDIR:-/tmp}"
scratch="$(mktemp -d "$scratch_root/zooloop-sim-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$out"
DATABASE_URL="sqlite:///$scratch/sim.sqlite3" MEDIA_ROOT="$scratch/media" ZOOLOOP_MODEL_DIR="$scratch/models" \
  LOG_LEVEL=WARNING "$here/.venv/bin/python" "$here/manage.py" simulate --migrate --out "$out" "$@"
