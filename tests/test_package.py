"""Package-level checks: light imports, the README's examples run as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import latentfactors

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = (
        "import sys, latentfactors as lf; lf.Interactions; "
        "heavy = [m for m in ('numba', 'matplotlib', 'sklearn') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_command_line_starts_without_the_numeric_stack():
    """``latentfactors --help`` (and every command's parsing) imports click and the
    command modules only: NumPy, pandas and the models load when a command runs."""
    code = (
        "import sys, latentfactors.cli; "
        "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'numba', 'latentfactors.models', "
        "'latentfactors.distributed') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_and_public_names():
    assert re.fullmatch(r"\d+\.\d+\.\d+", latentfactors.__version__)
    for name in latentfactors.__all__:
        assert getattr(latentfactors, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        latentfactors.nope  # noqa: B018


def readme_python_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_examples():
    assert readme_python_blocks(), "README.md should show at least one Python example"


@pytest.mark.parametrize("index", range(len(readme_python_blocks())))
def test_readme_python_example_runs(index, tmp_path, monkeypatch, data_dir):
    # run where files it writes (report.html ...) land in a temporary folder
    monkeypatch.chdir(tmp_path)
    code = readme_python_blocks()[index].replace('"../shared/data', f'"{data_dir.as_posix()}')
    namespace: dict = {}
    exec(compile(code, f"README.md block {index}", "exec"), namespace)


def test_blas_stays_single_threaded_during_fit_in_a_fresh_process():
    """fit limits BLAS to one thread (numba's threads do the work). The limiter is built
    once per process: it must see SciPy's BLAS / LAPACK even when the first fit needs
    neither (an ALS fitted after an SVD ran 3x slower when it did not)."""
    code = """
from threadpoolctl import threadpool_info
from latentfactors.data import make_synthetic
from latentfactors.models import SVD
from latentfactors.models.als import ALS
data = make_synthetic(60, 40, 800, seed=0).interactions
SVD(n_factors=2, n_epochs=1).fit(data)
seen = []
ALS(n_factors=2, n_epochs=1).fit(data, callbacks=[lambda m, info: seen.extend(
    (i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")])
print(seen)
assert seen and all(n == 1 for _, n in seen), seen
"""
    import os

    # BLAS on 2 threads unless limited, so the check means something on any machine
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
