"""Benchmark: champion /predict vs `mlflow models serve` vs a constant FastAPI endpoint.

    python benchmarks/serving_vs_mlflow.py [--duration 10] [--connections 1,16]

Trains a Titanic model (and a challenger) into a temporary embedded MLflow store, then
serves the same registered model three ways, one at a time, each as one uvicorn worker
on 127.0.0.1: `mlflow models serve` (/invocations), champion (`champion serve`, A/B on —
hash split 50/50 between champion and challenger — and every prediction committed to
the SQLite log before the response), and a FastAPI endpoint that parses the same JSON
and returns a constant (the framework's ceiling). Load comes from wrk (Debian package),
one thread, after a warm-up. Prints RPS, p50, p99 and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROW = {
    "Pclass": 3,
    "Age": 22.0,
    "SibSp": 1,
    "Parch": 0,
    "Fare": 7.25,
    "Sex": "male",
    "Deck": None,
    "Embarked": "S",
}
TOKEN = "benchmark-admin-token"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lua_script(path: Path, endpoint: str, body_template: str) -> Path:
    """A wrk script posting ``body_template`` ({n} = a changing user id)."""
    parts = body_template.split("{n}")
    concat = " .. counter .. ".join(json.dumps(p) for p in parts)
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "counter = 0\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        f'  return wrk.format(nil, "{endpoint}", nil, {concat})\n'
        "end\n"
    )
    return path


def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d2s", "-s", str(script), url],
        capture_output=True,
        check=True,
    )  # warm-up
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def wait(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}) before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer")


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as fh:
        return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=fh, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="1,16")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    console = Console(width=150)
    conns = [int(c) for c in args.connections.split(",")]
    work = Path(tempfile.mkdtemp(prefix="champion-bench-"))
    home = work / "home"
    env = {
        # `mlflow models serve` runs `uvicorn` from PATH: use this interpreter's
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CHAMPION_HOME": str(home),
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
    }
    console.print("training champion and challenger (Titanic) ...")
    for alias, seed in (("champion", 1), ("challenger", 2)):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "champion",
                "train",
                "--dataset",
                "titanic",
                "--budget",
                "5",
                "--seed",
                str(seed),
                "--register",
                alias,
            ],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
    body = json.dumps({"user_id": "u{n}", "features": ROW})
    mlflow_body = json.dumps(
        {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}}
    )
    results: dict[tuple[str, int], dict[str, float]] = {}

    targets = [
        (
            "mlflow models serve",
            "/invocations",
            mlflow_body,
            lambda port: [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                "models:/champion-model@champion",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "1",
            ],
            "/ping",
        ),
        (
            "champion /predict (A/B + log)",
            "/predict",
            body,
            lambda port: [sys.executable, "-m", "champion", "serve", "--port", str(port)],
            "/ready",
        ),
        (
            "constant FastAPI endpoint",
            "/predict",
            body,
            lambda port: [
                sys.executable,
                "-m",
                "uvicorn",
                "_constant_app:app",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--log-level",
                "warning",
                "--app-dir",
                str(HERE),
            ],
            "/docs",
        ),
    ]
    for name, endpoint, payload, command, probe in targets:
        port = free_port()
        proc = start(command(port), env, work / f"{port}.log")
        url = f"http://127.0.0.1:{port}"
        try:
            wait(url + probe, proc)
            if name.startswith("champion"):
                requests.put(
                    f"{url}/ab/config",
                    json={"mode": "hash", "split_b": 0.5},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=10,
                ).raise_for_status()
                time.sleep(1)
                models = requests.get(f"{url}/models", timeout=10).json()
                for slot in ("champion", "challenger"):
                    console.print(
                        f"[dim]{slot}: {models[slot]['estimator']}, {models[slot]['path']}[/]"
                    )
            script = lua_script(work / f"{port}.lua", endpoint, payload)
            for c in conns:
                console.print(f"[dim]{name}, {c} connection(s) ...[/]")
                results[(name, c)] = wrk(url, script, c, args.duration)
        finally:
            stop(proc)

    table = Table(title="Single-row prediction over HTTP, one uvicorn worker, wrk load")
    for col in (
        "server",
        "connections",
        "req/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "× mlflow serve",
        "of constant",
    ):
        table.add_column(col, justify="left" if col == "server" else "right")
    for (name, c), r in results.items():
        base = results[("mlflow models serve", c)]["rps"]
        ceiling = results[("constant FastAPI endpoint", c)]["rps"]
        table.add_row(
            name,
            str(c),
            f"{r['rps']:.0f}",
            f"{r['p50']:.2f}",
            f"{r['p99']:.2f}",
            f"{r['errors']:.0f}",
            f"{r['rps'] / base:.1f}",
            f"{r['rps'] / ceiling:.0%}",
        )
    console.print(table)
    console.print(f"2-core machine, Python {sys.version.split()[0]}; work dir {work}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
