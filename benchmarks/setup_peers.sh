#!/usr/bin/env bash
# Create benchmarks/.venv-peers (git-ignored) with the peer libraries and this project, so
# that one process can import both for the comparison benchmarks. The peers are never
# dependencies of latentfactors itself. Every peer is optional: one that fails to install
# is reported and skipped, and the benchmarks skip it too.
#
#   bash benchmarks/setup_peers.sh            # PEERS_VENV=/some/dir overrides the location
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="${PEERS_VENV:-$here/.venv-peers}"
failed=()

python3 -m venv "$venv" || exit 1
py="$venv/bin/python"
pip() { "$py" -m pip "$@"; }
warn() { echo "WARNING: $*" >&2; }
# try NAME PIP-ARGS...: install, or warn and record NAME as failed
try() {
    local name="$1"
    shift
    echo "== installing $name"
    if ! pip install -q "$@"; then
        warn "could not install $name; its benchmarks are skipped"
        failed+=("$name")
        return 1
    fi
}

pip install -q --upgrade pip setuptools wheel || warn "could not upgrade pip/setuptools/wheel"
for pkg in numpy pandas scipy; do
    try "$pkg" "$pkg"
done

# This project, editable, from the repository root. Not optional.
echo "== installing latentfactors (editable, $root)"
pip install -q -e "$root" || { echo "ERROR: could not install latentfactors" >&2; exit 1; }

# Surprise: a wheel where PyPI has one for this Python, else a Cython build. If that fails
# under numpy 2, build it against numpy<2 (pinned first, then no build isolation).
echo "== installing scikit-surprise"
if ! pip install -q scikit-surprise; then
    warn "scikit-surprise failed with $("$py" -c 'import numpy; print(numpy.__version__)' \
        2>/dev/null || echo 'no numpy'); retrying against numpy<2"
    if ! { pip install -q "numpy<2" Cython && pip install -q --no-build-isolation scikit-surprise; }
    then
        warn "could not install scikit-surprise; its benchmarks are skipped"
        failed+=(scikit-surprise)
    fi
fi

try cornac cornac
try implicit implicit
try matplotlib matplotlib  # RESULTS.md's plots

# Spark's ALS needs a Java runtime; without one, pyspark is not installed and skipped.
if command -v java >/dev/null; then
    try pyspark pyspark
else
    warn "no java on PATH: Spark ALS is skipped"
fi

# LightFM 1.17 (the last release, sdist only) cannot be built through PEP 517: its setup.py
# assigns an attribute on __builtins__, a dict when setuptools' build backend runs it
# (upstream issue lyst/lightfm#687). pip < 25.3 can still run setup.py directly, which works;
# use such a pip (run from its wheel, nothing kept) for this one package.
echo "== installing lightfm"
if ! pip install -q lightfm 2>/dev/null; then
    echo "   PEP 517 build failed (lyst/lightfm#687); building with pip<25.3"
    tmp="$(mktemp -d)"
    if pip download -q --no-deps -d "$tmp" "pip<25.3" \
        && "$py" "$(ls "$tmp"/pip-*.whl)/pip" install -q --no-use-pep517 \
            --no-build-isolation lightfm; then
        :
    else
        warn "could not install lightfm; its benchmarks are skipped"
        failed+=(lightfm)
    fi
    rm -rf "$tmp"
fi

echo "== peers environment: $venv"
"$py" - <<'PY'
import importlib

for name in ("latentfactors", "numpy", "pandas", "scipy", "surprise", "cornac", "implicit",
             "lightfm", "pyspark", "matplotlib"):
    try:
        mod = importlib.import_module(name)
        print(f"  {name:14s} {getattr(mod, '__version__', '?')}")
    except Exception as exc:  # report any import failure, whatever its kind
        print(f"  {name:14s} not available ({exc.__class__.__name__}: {exc})")
PY
if ((${#failed[@]})); then
    warn "not installed: ${failed[*]}"
fi
exit 0
