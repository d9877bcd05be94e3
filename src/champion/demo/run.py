"""``champion demo``: the whole lifecycle, embedded on one machine, in one command.

In ``workdir``: an embedded MLflow store, a SQLite prediction log, the prediction API as
a real HTTP server on a free 127.0.0.1 port, and the story —

1. bootstrap: no champion, so one is trained on a reference split and made champion;
2. traffic: simulated users call the API, their labels arrive through ``/feedback``;
3. drift appears in chosen columns; the drift check on the features the API served fires;
4. retraining on the recent labelled rows registers a challenger; an experiment starts;
5. evaluations at intervals until a decision; promotion hot-swaps the API;
6. a console summary and one self-contained HTML report.

Each step is a :mod:`champion.lifecycle` function — the same ones the Airflow DAGs run.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from champion.datasets import Dataset
from champion.errors import ChampionError, InvalidInputError
from champion.serving.process import local_api, wait_for
from champion.settings import Settings
from champion.simulation.drift import make_traffic
from champion.simulation.replay import TrafficResult, send_traffic

#: Columns whose drift matters for each bundled dataset (strong predictors).
DEFAULT_DRIFT_COLS: dict[str, tuple[str, ...]] = {
    "titanic": ("Age", "Fare"),
    "diamonds": ("carat", "clarity"),
}
#: What a demo run creates in its working directory (removed at the start of the next).
STATE = ("mlflow.db", "artifacts", "events.db", "events.db-wal", "events.db-shm", "api.log")


def default_drift_cols(source: Dataset) -> tuple[str, ...]:
    if source.name in DEFAULT_DRIFT_COLS:
        return DEFAULT_DRIFT_COLS[source.name]
    return source.schema.numeric[:2] or source.schema.categorical[:1]


@dataclass(frozen=True)
class DemoOptions:
    mode: str = "shadow"  # experiment routing: shadow | hash | random
    split_b: float = 0.5
    rows: int = 1500  # rows per traffic window (stable, drifted)
    eval_every: int = 500  # rows of traffic between evaluations
    max_evaluations: int = 12
    budget: float = 8.0  # AutoML seconds per training
    shift_sd: float = 1.0  # numeric drift: shift by this many SDs (0: the original router's rule)
    seed: int = 0


@dataclass
class DemoStory:
    """What happened, step by step (written to ``summary.json``)."""

    dataset: str
    api_url: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, **facts: Any) -> None:
        self.steps.append({"step": name, **facts})


def _check(source: Dataset, cols: Sequence[str], options: DemoOptions) -> None:
    unknown = [c for c in cols if c not in source.schema.features]
    if unknown:
        raise InvalidInputError(
            f"--drift-cols: {', '.join(unknown)} not among the features "
            f"({', '.join(source.schema.features)})"
        )
    if options.mode not in ("shadow", "hash", "random"):
        raise InvalidInputError(f"--mode must be shadow, hash or random, got {options.mode!r}")
    if len(source.frame) < 100:
        raise InvalidInputError(f"the dataset has {len(source.frame)} rows; the demo needs 100")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _traffic(
    console: Console, label: str, url: str, frame: pd.DataFrame, source: Dataset, seed: int
) -> TrafficResult:
    with _progress(console) as progress:
        task = progress.add_task(label, total=len(frame))
        result = send_traffic(
            url,
            frame,
            source.schema.features,
            target=source.schema.target,
            seed=seed,
            on_progress=lambda n: progress.advance(task, n),
        )
    if result.answered < result.sent:
        raise ChampionError(
            f"{result.sent - result.answered} of {result.sent} requests failed: "
            + "; ".join(result.errors)
        )
    return result


def run_demo(
    source: Dataset,
    *,
    workdir: Path,
    drift_cols: Sequence[str] | None,
    options: DemoOptions,
    settings: Settings,
    console: Console,
) -> DemoStory:
    """Run the story in ``workdir``; returns what happened (also in summary.json)."""
    from champion import lifecycle
    from champion.cli.common import print_drift
    from champion.reports.demo import write_report

    cols = tuple(drift_cols) if drift_cols else default_drift_cols(source)
    _check(source, cols, options)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for name in STATE:  # a fresh story every run
        path = workdir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    horizon = options.eval_every * options.max_evaluations
    settings = settings.model_copy(
        update={
            "home": workdir,
            "mlflow_tracking_uri": None,
            "database_url": None,
            "ab_log_path": None,
            "train_budget": options.budget,
            "drift_window": min(options.rows, len(source.frame) * 35 // 100),
            "retrain_rows": min(options.rows, len(source.frame) * 35 // 100),
            "ab_planned_labels": max(horizon // 2, 10),
            "ab_max_labelled": max(horizon, 3),
            "ab_min_labelled": min(200, max(options.eval_every // 2, 2)),
            "seed": options.seed,
        }
    )
    story = DemoStory(source.name)
    started = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    order = rng.permutation(len(source.frame))
    # reference (training) | live pool (the windows retraining learns from) | experiment
    # pool (rows no model was trained on: what the A/B is judged on)
    cut1, cut2 = int(len(order) * 0.4), int(len(order) * 0.75)
    reference = Dataset(source.name, source.frame.iloc[order[:cut1]], source.schema, source.source)
    live_pool = source.frame.iloc[order[cut1:cut2]]
    test_pool = source.frame.iloc[order[cut2:]]
    # distinct rows per window when the pool is large enough (duplicates would let the
    # retraining's cross-validation see its validation rows)
    window_rows = min(options.rows, len(live_pool))
    shift = options.shift_sd if options.shift_sd > 0 else None
    console.rule(
        f"champion demo · {source.name} · {len(source.frame):,} rows · {source.schema.task}"
    )

    # 1. bootstrap ---------------------------------------------------------------------
    config = lifecycle.train_config(settings)
    with _progress(console) as progress:
        task = progress.add_task(
            "1. bootstrap: AutoML on the reference split (s)", total=config.budget
        )
        boot = lifecycle.bootstrap(
            settings,
            reference,
            config,
            on_progress=lambda elapsed, _n: progress.update(
                task, completed=min(elapsed, config.budget)
            ),
        )
    assert boot.training is not None
    champion_v = boot.champion.version
    story.step(
        "bootstrap", champion=champion_v, rows=len(reference.frame), run_id=boot.champion.run_id
    )
    console.print(f"champion v{champion_v}: {_scores(boot.training.result)}")

    token = secrets.token_urlsafe(24)
    env = {
        "CHAMPION_HOME": str(workdir),
        "CHAMPION_ADMIN_TOKEN": token,
        "CHAMPION_POLL_INTERVAL": "1",
    }
    for key in ("CHAMPION_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI", "CHAMPION_DATABASE_URL"):
        env[key] = ""
    env["CHAMPION_MODEL_NAME"] = settings.model_name
    with local_api(env, workdir / "api.log") as api:
        story.api_url = api.url
        console.print(f"prediction API on {api.url} (docs at {api.url}/docs)")
        # 2. stable traffic -------------------------------------------------------------
        stable = make_traffic(live_pool, window_rows, seed=options.seed + 1)
        sent = _traffic(
            console, "2. stable traffic + labels", api.url, stable, source, options.seed + 1
        )
        checked = lifecycle.check_served_drift(settings)
        story.step(
            "stable traffic",
            sent=sent.answered,
            labelled=sent.labelled,
            rps=round(sent.rate),
            drifted=checked.result.drifted,
            reason=checked.result.reason,
        )
        console.print(f"drift check on the served window: {checked.result.reason}")
        windows = {"stable": checked.result}

        # 3. drifted traffic and the drift check --------------------------------------------
        drifted = make_traffic(
            live_pool, window_rows, seed=options.seed + 2, drift_cols=cols, shift_sd=shift
        )
        sent = _traffic(
            console,
            f"3. traffic drifting in {', '.join(cols)}",
            api.url,
            drifted,
            source,
            options.seed + 2,
        )
        # 4. drift -> retrain -> challenger -> experiment ----------------------------------
        with _progress(console) as progress:
            task = progress.add_task(
                "4. drift check, retrain on live labels (s)", total=config.budget
            )
            retrain = lifecycle.drift_retrain(
                settings,
                config,
                mode=options.mode,
                split_b=options.split_b,
                on_progress=lambda elapsed, _n: progress.update(
                    task, completed=min(elapsed, config.budget)
                ),
            )
        assert retrain.drift is not None
        windows["drifted"] = retrain.drift.result
        print_drift(retrain.drift.result)
        story.step(
            "drifted traffic",
            sent=sent.answered,
            labelled=sent.labelled,
            drifted=retrain.drift.result.drifted,
            drifted_features=list(retrain.drift.result.drifted_features),
        )
        story.step("retrain", **retrain.to_dict())
        console.print(retrain.note)

        outcome = None
        if retrain.retrained:
            challenger_v = retrain.challenger
            wait_for(
                f"{api.url}/models",
                f"challenger v{challenger_v} loaded",
                lambda b: (b.get("challenger") or {}).get("version") == challenger_v,
            )
            wait_for(
                f"{api.url}/ab/config",
                "the experiment",
                lambda b: b.get("experiment_id") == retrain.experiment.experiment_id,
            )
            # 5. evaluations at intervals -----------------------------------------------
            with _progress(console) as progress:
                task = progress.add_task(
                    f"5. {options.mode} experiment: traffic + evaluation",
                    total=options.max_evaluations,
                )
                for round_ in range(options.max_evaluations):
                    window = make_traffic(
                        test_pool,
                        options.eval_every,
                        seed=options.seed + 10 + round_,
                        drift_cols=cols,
                        shift_sd=shift,
                    )
                    sent = send_traffic(
                        api.url,
                        window,
                        source.schema.features,
                        target=source.schema.target,
                        seed=options.seed + 10 + round_,
                    )
                    outcome = lifecycle.evaluate_and_promote(settings)
                    d = outcome.decision
                    assert d is not None
                    story.evaluations.append(
                        {
                            "round": round_ + 1,
                            "labelled": list(d.labelled),
                            "action": d.action,
                            "estimate": d.interval.estimate,
                            "lower": d.interval.lower if np.isfinite(d.interval.lower) else None,
                            "upper": d.interval.upper if np.isfinite(d.interval.upper) else None,
                            "p_value": d.interval.p_value,
                        }
                    )
                    progress.update(
                        task,
                        advance=1,
                        description=f"5. {options.mode} experiment: look {round_ + 1}: {d.action}",
                    )
                    if d.action != "continue":
                        break
            assert outcome is not None and outcome.decision is not None
            story.step(
                "decision",
                action=outcome.decision.action,
                applied=outcome.applied,
                reasons=list(outcome.decision.reasons),
                run_id=outcome.run_id,
            )
            if outcome.applied and outcome.applied.startswith("promoted"):
                body = wait_for(
                    f"{api.url}/models",
                    f"the API serving v{challenger_v}",
                    lambda b: (b.get("champion") or {}).get("version") == challenger_v,
                )
                probe = send_traffic(
                    api.url, make_traffic(test_pool, 20, seed=99), source.schema.features
                )
                story.step(
                    "hot swap", serving=body["champion"]["version"], probe_versions=probe.versions
                )
    registry = lifecycle.open_registry(settings)
    story.final = {
        "seconds": round(time.perf_counter() - started, 1),
        "registry": [
            {"version": v.version, "aliases": list(v.aliases)} for v in registry.versions()
        ],
        "history": [e.__dict__ for e in registry.history()],
    }
    report = write_report(workdir, story, windows, boot, retrain, outcome, settings)
    (workdir / "summary.json").write_text(
        json.dumps(story.__dict__, indent=2, default=str), encoding="utf-8"
    )
    _print_summary(console, story, report, settings)
    return story


def _scores(result: Any) -> str:
    chosen = result.selection.chosen.family
    shown = ", ".join(f"{k} {v:.3f}" for k, v in result.cv_scores.items() if v == v)
    return f"{chosen} ({result.n_trials} trials), CV {shown}"


def _print_summary(console: Console, story: DemoStory, report: Path, settings: Settings) -> None:
    table = Table(title="What happened")
    table.add_column("step")
    table.add_column("facts", overflow="fold")
    for step in story.steps:
        facts = {
            k: v
            for k, v in step.items()
            if k not in ("step", "reasons") and v not in (None, [], "")
        }
        table.add_row(step["step"], ", ".join(f"{k}={v}" for k, v in facts.items()))
    console.print(table)
    for e in story.final["history"]:
        console.print(
            f"  {e['at']}  {e['action']:<8} {e['alias']:<10} -> v{e['version'] or '—'}  "
            f"{e['reason'][:90]}",
            highlight=False,
        )
    console.print(f"done in {story.final['seconds']} s · report: {report}")
    console.print(f"MLflow UI: mlflow ui --backend-store-uri {settings.tracking_uri}")
