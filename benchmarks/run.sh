#!/usr/bin/env bash
# Run the whole benchmark suite and rebuild RESULTS.md:
#
#   bash benchmarks/run.sh            # full: 30-40 minutes on 2 cores (100M-rating scale run)
#   bash benchmarks/run.sh --quick    # a few minutes: smaller synthetic sets, RESULTS-quick.md
#
# Creates benchmarks/.venv-peers (setup_peers.sh) on first use. Run it on a quiet machine:
# the ratios hold on a noisy one, the absolute times do not.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PEERS_VENV:-$here/.venv-peers}"
mode="${1:-}"
if [ -n "$mode" ] && [ "$mode" != "--quick" ]; then
    echo "usage: bash benchmarks/run.sh [--quick]" >&2
    exit 2
fi
[ -x "$venv/bin/python" ] || bash "$here/setup_peers.sh"
cd "$here/.."
for bench in explicit implicit scale; do
    echo "== bench_$bench.py $mode"
    "$venv/bin/python" "benchmarks/bench_$bench.py" $mode
done
"$venv/bin/python" benchmarks/make_results.py $mode
