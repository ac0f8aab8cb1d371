#!/usr/bin/env bash
# Create benchmarks/.venv-peers with the peer libraries and this project, for the
# comparison benchmarks. The peers are never dependencies of latentfactors itself.
# A peer that fails to install is reported and skipped; the benchmarks skip it too.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="$here/.venv-peers"
python3 -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install -q --upgrade pip
"$pip" install -q "numpy" "scipy" "pandas" "Cython" "setuptools" "wheel" || exit 1
"$pip" install -q -e "$root" || exit 1
for pkg in implicit cornac; do
    "$pip" install -q "$pkg" || echo "WARNING: could not install $pkg; its benchmarks are skipped"
done
# LightFM 1.17 (unmaintained) fails to build with current setuptools: its setup.py sets
# an attribute on __builtins__, which is a dict when setuptools runs it. Build the
# sdist with that one line fixed (nothing of it is kept in this repository).
if ! "$pip" install -q --no-build-isolation lightfm 2>/dev/null; then
    tmp=$(mktemp -d)
    (
        cd "$tmp" \
        && url=$(curl -s --max-time 30 https://pypi.org/pypi/lightfm/json | "$venv/bin/python" -c \
            "import json,sys; print([u['url'] for u in json.load(sys.stdin)['urls'] if u['packagetype']=='sdist'][0])") \
        && curl -s --max-time 120 -o lightfm.tar.gz "$url" && tar xzf lightfm.tar.gz \
        && cd lightfm-*/ \
        && sed -i 's/^__builtins__.__LIGHTFM_SETUP__ = True/import builtins\nbuiltins.__LIGHTFM_SETUP__ = True/' setup.py \
        && "$pip" install -q --no-build-isolation .
    ) || echo "WARNING: could not install lightfm; its benchmarks are skipped"
    rm -rf "$tmp"
fi
# Surprise ships only a source distribution: build it against the installed numpy
"$pip" install -q --no-build-isolation scikit-surprise \
    || echo "WARNING: could not install scikit-surprise; its benchmarks are skipped"
"$venv/bin/python" - <<'PY'
import importlib
for name in ("latentfactors", "implicit", "cornac", "lightfm", "surprise"):
    try:
        mod = importlib.import_module(name)
        print(f"{name} {getattr(mod, '__version__', '?')}")
    except Exception as exc:  # noqa: BLE001 - report any import failure
        print(f"{name}: not available ({exc.__class__.__name__}: {exc})")
PY
