"""CI must run exactly the test command the README gives."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_cmds = [c for c in commands if "pytest" in c]
    assert len(test_cmds) == 1, "the README should give one test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmds[0].strip() in ci
