"""Shared by the benchmark drivers: a baseline's own venv, and one-JSON-line workers."""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

from rich.console import Console


def ensure_venv(path: Path, packages: list[str], check: str, console: Console) -> Path | None:
    """The python of a venv at ``path`` holding ``packages`` (installed on first use).

    ``check`` is Python code that succeeds when the venv is usable. Returns None when
    the install fails, so the caller can run without the baseline.
    """
    python = path / "bin" / "python"
    probe = [str(python), "-c", check]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    console.print(f"installing {' '.join(packages)} into {path} ...")
    venv.create(path, with_pip=True, clear=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=False)
    return python if done.returncode == 0 else None


def run_worker(python: Path, worker: Path, *args: object, timeout: float = 3600) -> dict:
    """Run ``worker`` in a fresh process; return the JSON object of its last line."""
    proc = subprocess.run(
        [str(python), str(worker), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        cwd=worker.parent,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{worker.name} {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
