"""The pure layers stay pure: drift/ and abtest/ import numpy, scipy, pandas and the
standard library only (plus champion's own pure modules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "champion"
BANNED = {"mlflow", "sqlalchemy", "fastapi", "starlette", "airflow", "sklearn", "flaml", "httpx"}
ALLOWED_CHAMPION = ("champion.errors", "champion.drift", "champion.abtest")


@pytest.mark.parametrize("package", ["drift", "abtest"])
def test_pure_package_imports(package: str) -> None:
    offenders = []
    for path in sorted((SRC / package).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                if root in BANNED or (root == "champion" and not name.startswith(ALLOWED_CHAMPION)):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
