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
