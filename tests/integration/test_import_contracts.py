"""The layer contracts of pyproject.toml: they hold on the tree, and they catch a
violation of each kind in a copy of it (what `lint-imports` in CI would report)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = [
    c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
]
LINT = [
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_the_tree(tree: Path) -> None:
    done = _lint(tree)
    assert done.returncode == 0, done.stdout
    assert "5 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("serving/app.py", "from champion.lifecycle import bootstrap", "Serving does not import"),
        ("drift/stats.py", "import sqlalchemy", "The pure core imports no"),
        ("abtest/decision.py", "import champion.settings", "Layers"),
        ("tracking/runs.py", "import champion.cli", "Nothing imports the CLI"),
        ("lifecycle/experiment.py", "import champion.lifecycle.retrain", "No import circle"),
    ],
)
def test_a_violation_breaks_its_contract(tree: Path, module: str, line: str, broken: str) -> None:
    path = tree / "src" / "champion" / module
    path.write_text(path.read_text() + f"\n{line}  # deliberate violation\n")
    done = _lint(tree)
    assert done.returncode == 1
    words = " ".join(done.stdout.split())  # contract names wrap at the terminal's width
    (expected,) = (name for name in CONTRACTS if name.startswith(broken))
    assert f"{expected} BROKEN" in words, done.stdout
