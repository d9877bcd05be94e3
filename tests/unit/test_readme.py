"""The README's first two commands are the ones CI and users run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()[:12]
    return [line.strip() for line in lines if line.strip().startswith("python3 -m venv")]


def test_readme_starts_with_the_demo_and_test_commands() -> None:
    demo, tests = _commands()[:2]
    assert demo.endswith("champion demo")
    assert tests.endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _commands()[1] in [line.strip() for line in ci]
