"""Benchmark: champion /predict against the servers users would pick instead.

    python benchmarks/serving_vs_peers.py [--duration 10] [--connections 1,16,64] [--rounds 3]

Trains a Titanic model (and a challenger) into a temporary embedded MLflow store, then
serves the same registered model each way, all started at once on 127.0.0.1 and loaded
in turn (``--rounds`` interleaved rounds: the machine's speed drifts between minutes, and
each ratio is taken within one round):
`mlflow models serve` (/invocations, one uvicorn worker); MLServer 1.7 with its
scikit-learn runtime (V2 inference protocol, pandas content type, ``parallel_workers: 0``
— its worker pool does not start with the current uvloop); BentoML 1.4 (a service that
unpickles the same file, one worker); champion (`champion serve`, A/B on — hash split
50/50, both models scoring every request — and every prediction committed to the
SQLite log before the response), with one worker, with ``--workers 2``, and with its
commits on a thread (``CHAMPION_LOG_WRITER=thread``) instead of its writer process; and a
FastAPI endpoint that parses the same JSON and returns a constant (the framework's
ceiling). MLServer and BentoML get their own venvs under ``benchmarks/`` (installed on
first use, with this venv's scikit-learn, pandas and numpy so the pickle loads the
same). Load comes from wrk (Debian package), one thread, after a warm-up. Prints req/s,
p50, p99 and the ratios to the best peer and to the constant endpoint.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from _runner import ensure_venv

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROW = {
    "Pclass": 3,
    "Age": 22.0,
    "SibSp": 1,
    "Parch": 0,
    "Fare": 7.25,
    "Sex": "male",
    "Deck": "C",
    "Embarked": "S",
}
TOKEN = "benchmark-admin-token"
PEERS = ("mlflow models serve", "MLServer 1.7 (sklearn runtime)", "BentoML 1.4")
CONSTANT = "constant FastAPI endpoint"
#: what the pickle needs, at this venv's versions (the peers unpickle the same file)
SHARED = ("scikit-learn", "pandas", "numpy", "lightgbm", "xgboost", "cloudpickle")


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


@dataclass
class Server:
    name: str
    endpoint: str
    body: str
    command: Callable[[int], list[str]]
    probe: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    champion: bool = False


def peer_venv(name: str, packages: list[str], check: str, console: Console) -> Path | None:
    """A peer's venv: its packages, this venv's versions of the model's libraries, and
    champion's source on the path (the pickle may refer to its classes)."""
    pins = [f"{p}=={importlib.metadata.version(p)}" for p in SHARED]
    python = ensure_venv(HERE / f".venv-{name}", [*packages, *pins], check, console)
    if python is None:
        console.print(f"[yellow]{name} could not be installed: left out[/]")
        return None
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "champion-src.pth").write_text(str(ROOT / "src") + "\n")
    return python


def train(env: dict[str, str], work: Path) -> Path:
    """Champion and challenger registered; returns the champion's model.pkl."""
    for alias, seed in (("champion", 1), ("challenger", 2)):
        subprocess.run(
            [sys.executable, "-m", "champion", "train", "--dataset", "titanic", "--budget",
             "5", "--seed", str(seed), "--register", alias],
            env={**os.environ, **env}, check=True, capture_output=True,
        )  # fmt: skip
    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    import mlflow

    local = mlflow.artifacts.download_artifacts(
        "models:/champion-model@champion", dst_path=str(work / "model")
    )
    return Path(local) / "model.pkl"


def mlserver_server(python: Path, pkl: Path, work: Path) -> Server:
    def command(port: int) -> list[str]:
        folder = work / f"mlserver-{port}"
        folder.mkdir()
        settings = {"parallel_workers": 0, "host": "127.0.0.1", "http_port": port,
                    "grpc_port": free_port(), "metrics_port": free_port()}  # fmt: skip
        (folder / "settings.json").write_text(json.dumps(settings))
        model = {"name": "titanic", "implementation": "mlserver_sklearn.SKLearnModel",
                 "parameters": {"uri": str(pkl)}}  # fmt: skip
        (folder / "model-settings.json").write_text(json.dumps(model))
        return [str(python.parent / "mlserver"), "start", str(folder)]

    def column(name: str, value: object) -> dict:
        kind = "BYTES" if isinstance(value, str) else "FP64"
        return {"name": name, "shape": [1], "datatype": kind, "data": [value]}

    body = {"parameters": {"content_type": "pd"},
            "inputs": [column(k, v) for k, v in ROW.items()]}  # fmt: skip
    return Server(PEERS[1], "/v2/models/titanic/infer", json.dumps(body), command,
                  "/v2/health/ready")  # fmt: skip


def bento_server(python: Path, pkl: Path) -> Server:
    def command(port: int) -> list[str]:
        return [str(python.parent / "bentoml"), "serve", "_bento_service:Titanic",
                "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip

    return Server(
        PEERS[2], "/predict", json.dumps({"features": ROW}), command, "/readyz",
        env={"BENCH_MODEL_PKL": str(pkl), "BENTOML_DO_NOT_TRACK": "True"}, cwd=HERE,
    )  # fmt: skip


def local_servers() -> list[Server]:
    body = json.dumps({"user_id": "u{n}", "features": ROW})
    mlflow_body = json.dumps(
        {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}}
    )
    champion = [sys.executable, "-m", "champion", "serve", "--port"]
    constant = [sys.executable, "-m", "uvicorn", "_constant_app:app", "--loop", "uvloop",
                "--http", "httptools", "--log-level", "warning", "--app-dir", str(HERE),
                "--port"]  # fmt: skip
    return [
        Server(PEERS[0], "/invocations", mlflow_body,
               lambda port: [sys.executable, "-m", "mlflow", "models", "serve", "-m",
                             "models:/champion-model@champion", "--env-manager", "local",
                             "-h", "127.0.0.1", "-p", str(port), "-w", "1"], "/ping"),
        Server("champion /predict (A/B + log)", "/predict", body,
               lambda port: [*champion, str(port)], "/ready", champion=True),
        Server("champion, --workers 2", "/predict", body,
               lambda port: [*champion, str(port), "--workers", "2"], "/ready", champion=True),
        Server("champion, commits on a thread", "/predict", body,
               lambda port: [*champion, str(port)], "/ready", champion=True,
               env={"CHAMPION_LOG_WRITER": "thread"}),
        Server(CONSTANT, "/predict", body, lambda port: [*constant, str(port)], "/docs"),
    ]  # fmt: skip


def stubbed_servers() -> list[Server]:
    """champion with parts stubbed out (serve_stubbed.py): where a request's time goes."""
    body = json.dumps({"user_id": "u{n}", "features": ROW})
    stub = [sys.executable, str(HERE / "serve_stubbed.py")]
    return [
        Server(f"champion, {label}", "/predict", body,
               lambda port, mode=mode: [*stub, str(port), mode], "/ready", champion=True)
        for mode, label in (("nolog", "no log write"), ("noscore", "no model call"),
                            ("nolog-noscore", "neither"))
    ]  # fmt: skip


def start_ab(url: str, console: Console) -> None:
    requests.put(
        f"{url}/ab/config",
        json={"mode": "hash", "split_b": 0.5},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ).raise_for_status()
    time.sleep(1)  # every worker picks the configuration up at its next poll
    models = requests.get(f"{url}/models", timeout=10).json()
    for slot in ("champion", "challenger"):
        console.print(f"[dim]{slot}: {models[slot]['estimator']}, {models[slot]['path']}[/]")


@dataclass
class Running:
    """A started server: where it answers, and its wrk script."""

    server: Server
    proc: subprocess.Popen
    url: str
    script: Path


def launch(server: Server, env: dict[str, str], work: Path, console: Console) -> Running:
    """Start ``server`` on a free port and check it answers its body with a 200."""
    port = free_port()
    own = dict(server.env)
    if server.champion:  # its own log: an idle champion server keeps up no other's rows
        own.setdefault("CHAMPION_DATABASE_URL", f"sqlite:///{work / f'events-{port}.db'}")
    with (work / f"{port}.log").open("wb") as fh:
        proc = subprocess.Popen(
            server.command(port), env={**os.environ, **env, **own}, stdout=fh,
            stderr=subprocess.STDOUT, cwd=server.cwd,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait(url + server.probe, proc)
        if server.champion:
            start_ab(url, console)
        check = requests.post(url + server.endpoint, data=server.body.replace("{n}", "0"),
                              headers={"Content-Type": "application/json"}, timeout=30)  # fmt: skip
        if check.status_code != 200:
            raise SystemExit(f"{server.name} answered {check.status_code}: {check.text[:300]}")
    except BaseException:
        stop(proc)
        raise
    script = lua_script(work / f"{port}.lua", server.endpoint, server.body)
    return Running(server, proc, url, script)


Rounds = dict[str, dict[int, list[dict[str, float]]]]


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and every process under it (Linux /proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        child = int(stat.parent.name)
        parents[child], ticks[child] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grown = {pid}, True
    while grown:
        more = {c for c, p in parents.items() if p in tree} - tree
        tree |= more
        grown = bool(more)
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def settle(proc: subprocess.Popen, idle: float = 0.05, timeout: float = 60.0) -> None:
    """Wait until ``proc``'s process tree is idle (under ``idle`` of a core over half a
    second): a server still draining a backlog after its load would take CPU from the
    next one measured."""
    deadline = time.monotonic() + timeout
    used = _tree_cpu(proc.pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _tree_cpu(proc.pid)
        if now - used < idle * 0.5:
            return
        used = now


def measure(running: list[Running], conns: list[int], duration: int, rounds: int,
            console: Console) -> Rounds:  # fmt: skip
    """Every server at every connection count, ``rounds`` times, taking turns: each round
    loads each server once, so a drift of the machine's speed falls on all of them."""
    found: Rounds = {r.server.name: {c: [] for c in conns} for r in running}
    with Progress(console=console) as progress:
        task = progress.add_task("wrk", total=rounds * len(conns) * len(running))
        for n in range(rounds):
            for c in conns:
                for r in running:
                    progress.update(task, description=f"round {n + 1}: {r.server.name}, c={c}")
                    found[r.server.name][c].append(wrk(r.url, r.script, c, duration))
                    settle(r.proc)
                    progress.advance(task)
    return found


def report(results: Rounds, conns: list[int], rounds: int, console: Console) -> None:
    """Medians over the rounds; the ratios are taken within each round, then their
    median (and range) shown."""
    _median = statistics.median
    table = Table(title="Single-row prediction over HTTP on 2 cores, wrk load (one thread), "
                  f"median of {rounds} interleaved round(s)")  # fmt: skip
    for col in ("server", "connections", "req/s", "p50 ms", "p99 ms", "non-2xx",
                "× best peer", "of constant", "of constant, range"):  # fmt: skip
        table.add_column(col, justify="left" if col == "server" else "right")
    for name, by_c in results.items():
        for c in conns:
            runs = by_c[c]
            best = [max((results[p][c][i]["rps"] for p in PEERS if p in results),
                        default=float("nan")) for i in range(len(runs))]  # fmt: skip
            ceiling = [results[CONSTANT][c][i]["rps"] for i in range(len(runs))]
            of = [r["rps"] / k for r, k in zip(runs, ceiling, strict=True)]
            table.add_row(
                name, str(c), f"{_median([r['rps'] for r in runs]):.0f}",
                f"{_median([r['p50'] for r in runs]):.2f}",
                f"{_median([r['p99'] for r in runs]):.2f}",
                f"{sum(r['errors'] for r in runs):.0f}",
                f"{_median([r['rps'] / b for r, b in zip(runs, best, strict=True)]):.1f}",
                f"{_median(of):.0%}", f"{min(of):.0%}–{max(of):.0%}",
            )  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds: every server is loaded once per round (medians shown)",
    )
    parser.add_argument(
        "--parts",
        action="store_true",
        help="also champion with the log write, the model calls or both stubbed",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated name prefixes of the servers to run (default all)",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
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
    mlserver = peer_venv("mlserver", ["mlserver==1.7.1", "mlserver-sklearn==1.7.1"],
                         "import mlserver_sklearn", console)  # fmt: skip
    bento = peer_venv("bentoml", ["bentoml==1.4.40"], "import bentoml", console)
    console.print("training champion and challenger (Titanic) ...")
    pkl = train(env, work)
    servers = local_servers()
    if mlserver is not None:
        servers.insert(1, mlserver_server(mlserver, pkl, work))
    if bento is not None:
        servers.insert(2, bento_server(bento, pkl))
    if args.parts:
        servers[-1:-1] = stubbed_servers()
    if args.only:
        wanted = tuple(args.only.split(","))
        servers = [s for s in servers if s.name.startswith(wanted) or s.name == CONSTANT]
    running: list[Running] = []
    try:
        for server in servers:
            console.print(f"[dim]starting {server.name} ...[/]")
            running.append(launch(server, env, work, console))
        results = measure(running, conns, args.duration, args.rounds, console)
    finally:
        for r in running:
            stop(r.proc)
    report(results, conns, args.rounds, console)
    console.print(f"2-core machine, Python {sys.version.split()[0]}; work dir {work}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
