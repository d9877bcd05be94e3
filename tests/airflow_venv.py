"""The Airflow venv the DAG tests run in (``.venv-airflow``): Airflow pins fastapi below
what the API uses, so it cannot share ``.venv``.

Built once under a file lock, so CI can start building it beside the main install
(``python3 tests/airflow_venv.py &``) and the DAG tests wait for that build instead of
starting a second one into the same directory.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-airflow"


def _usable(python: Path) -> bool:
    probe = [str(python), "-c", "import airflow.sdk, champion"]
    return python.exists() and subprocess.run(probe, capture_output=True).returncode == 0


def ensure_airflow_python(venv: Path = VENV) -> Path:
    """The venv's python with champion[airflow] installed, building it if needed."""
    python = venv / "bin" / "python"
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held by a build in progress: wait for it
        if _usable(python):
            return python
        print(f"creating {venv} with champion[airflow] (first use)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[airflow]"]
        subprocess.run(install, check=True)
        return python


if __name__ == "__main__":
    ensure_airflow_python()
