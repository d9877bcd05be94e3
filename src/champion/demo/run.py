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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from champion import lifecycle
from champion.datasets import Dataset
from champion.demo.steps import (
    Pools,
    bootstrap_step,
    experiment_step,
    hot_swap_step,
    retrain_step,
    send_window,
)
from champion.demo.story import (
    DemoStory,
    DriftedTraffic,
    Retrained,
    ScenarioChosen,
    StableTraffic,
)
from champion.drift import DriftResult
from champion.errors import InvalidInputError
from champion.reports.console import drift_view
from champion.reports.demo import DemoReport, Experiment, Training, write_report
from champion.serving.process import local_api, wait_for
from champion.settings import Settings
from champion.simulation.drift import sample_rows
from champion.simulation.scenarios import Scenario, World, world_of
from champion.tracking.registry import open_registry
from champion.types import ABMode

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
    scenario: Scenario = Scenario.CONCEPT_SHIFT  # what changes after the stable window
    mode: ABMode = ABMode.SHADOW  # experiment routing: shadow | hash | random
    split_b: float = 0.5
    rows: int = 1000  # requests per traffic window (stable, drifted)
    eval_every: int = 500  # rows of traffic between evaluations
    max_evaluations: int = 12
    budget: float = 8.0  # AutoML seconds per training
    shift_sd: float = 1.0  # strength of the shift: normal scores move by about this many SDs
    seed: int = 0


def _check(source: Dataset, cols: Sequence[str], options: DemoOptions) -> None:
    unknown = [c for c in cols if c not in source.schema.features]
    if unknown:
        raise InvalidInputError(
            f"--drift-cols: {', '.join(unknown)} not among the features "
            f"({', '.join(source.schema.features)})"
        )
    if options.mode not in ABMode.experiments():
        raise InvalidInputError(f"--mode must be shadow, hash or random, got {options.mode!r}")
    if len(source.frame) < 100:
        raise InvalidInputError(f"the dataset has {len(source.frame)} rows; the demo needs 100")


def demo_settings(
    settings: Settings, workdir: Path, pools: Pools, options: DemoOptions
) -> Settings:
    """The user's settings, with everything the demo owns pointed at ``workdir``; the
    experiment's horizon is the experiment pool's rows (each is sent once)."""
    horizon = experiment_rows(pools, options)
    look = experiment_look(pools, options)
    window = pools.window_rows
    return settings.with_values(
        home=workdir,
        mlflow_tracking_uri=None,
        database_url=None,
        ab_log_path=None,
        train_budget=options.budget,
        drift_window=window,
        retrain_rows=window,
        # a small dataset's window is small: the demo retrains on what it has
        retrain_min_rows=min(settings.training.retrain_min_rows, max(window, 10)),
        ab_planned_labels=max(horizon // 2, 10),
        ab_max_labelled=max(horizon, 3),
        ab_min_labelled=min(200, max(look // 2, 2)),
        seed=options.seed,
    )


def split_pools(source: Dataset, options: DemoOptions) -> Pools:
    """Reference 40 % | live pool 35 % | experiment pool 25 %, in a seeded order."""
    order = np.random.default_rng(options.seed).permutation(len(source.frame))
    cut1, cut2 = int(len(order) * 0.4), int(len(order) * 0.75)
    frame = source.frame
    reference = Dataset(source.name, frame.iloc[order[:cut1]], source.schema, source.source)
    live = frame.iloc[order[cut1:cut2]]
    # a window never repeats a row — repeats are not independent draws, and the drift
    # tests and the A/B test would count them as new evidence — and is at most half its
    # pool, so a shifted window can be a selection from it
    return Pools(reference, live, frame.iloc[order[cut2:]], min(options.rows, len(live) // 2))


def experiment_rows(pools: Pools, options: DemoOptions) -> int:
    """The experiment's horizon: its planned rows, at most half the experiment pool (each
    row is sent once; a shifted experiment is a selection from the pool)."""
    return min(options.eval_every * options.max_evaluations, len(pools.test) // 2)


def experiment_look(pools: Pools, options: DemoOptions) -> int:
    """Rows between evaluations: ``eval_every``, or a quarter of a short experiment (so
    it still has several looks)."""
    return max(min(options.eval_every, -(-experiment_rows(pools, options) // 4)), 1)


def _world(source: Dataset, pools: Pools, cols: tuple[str, ...], options: DemoOptions) -> World:
    schema = source.schema
    assert schema.target is not None and schema.task is not None  # load_source checked
    return world_of(
        options.scenario,
        pools.reference.frame,
        drift_cols=cols,
        strength=options.shift_sd,
        target=schema.target,
        task=schema.task,
    )


def _sizes(pools: Pools, options: DemoOptions) -> str:
    capped = " (half the live pool)" if pools.window_rows < options.rows else ""
    return (
        f"{len(pools.reference.frame)} reference rows · windows of {pools.window_rows} distinct "
        f"rows{capped} · up to {experiment_rows(pools, options)} experiment rows, each sent "
        f"once, a look every {experiment_look(pools, options)}"
    )


#: Marks a directory ``champion demo`` created: only such a directory is ever cleared.
MARKER = ".champion-demo"


def _fresh(workdir: Path) -> Path:
    """``workdir`` ready for a new story: created (and marked) if new or empty; a
    directory the demo made before has its state cleared; anything else is refused
    before a single file is touched."""
    workdir = workdir.expanduser().resolve()
    if workdir.exists() and not workdir.is_dir():
        raise InvalidInputError(f"--workdir {workdir} is a file, not a directory")
    if workdir.is_dir() and any(workdir.iterdir()) and not (workdir / MARKER).is_file():
        raise InvalidInputError(
            f"--workdir {workdir} is not empty and was not made by champion demo; "
            "give a new or empty directory (nothing was deleted)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("made by champion demo; its state here is replaced\n")
    for name in STATE:  # a fresh story every run
        path = workdir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return workdir


def _api_env(settings: Settings) -> dict[str, str]:
    """The API child's environment: the demo's store, fresh admin and feedback tokens,
    fast polls."""
    env = {
        "CHAMPION_HOME": str(settings.home),
        "CHAMPION_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "CHAMPION_FEEDBACK_TOKEN": secrets.token_urlsafe(24),
        "CHAMPION_POLL_INTERVAL": "1",
        "CHAMPION_MODEL_NAME": settings.model_name,
    }
    for key in ("CHAMPION_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI", "CHAMPION_DATABASE_URL"):
        env[key] = ""
    return env


@dataclass(frozen=True)
class _Scene:
    """What every step of one demo run works with."""

    console: Console
    settings: Settings
    story: DemoStory
    source: Dataset
    pools: Pools
    world: World
    options: DemoOptions
    token: str  # the API's feedback token: the simulated label pipeline sends it


@dataclass
class _Run:
    """What the live part of the story produced, for the report."""

    windows: dict[str, DriftResult]
    retrain: lifecycle.RetrainOutcome | None = None
    outcome: lifecycle.EvaluationOutcome | None = None


def _traffic_and_drift(scene: _Scene) -> _Run:
    """2–4: stable traffic and its drift check, drifted traffic, the drift-retrain step."""
    console, story, pools, seed = scene.console, scene.story, scene.pools, scene.options.seed
    stable = sample_rows(pools.live, pools.window_rows, seed=seed + 1, replace=False)
    label = "2. stable traffic + labels"
    sent = send_window(console, label, story.api_url, stable, scene.source, seed + 1, scene.token)
    checked = lifecycle.check_served_drift(scene.settings).result
    story.steps.append(
        StableTraffic(
            sent.answered, sent.labelled, round(sent.rate), checked.drifted, checked.reason
        )
    )
    console.print(f"drift check on the served window: {checked.reason}")
    drifted = scene.world.sample(pools.live, pools.window_rows, seed=seed + 2)
    label = (
        "3. more traffic, nothing changed"
        if scene.world.scenario == Scenario.NO_DRIFT
        else f"3. traffic after the change ({scene.world.scenario})"
    )
    sent = send_window(console, label, story.api_url, drifted, scene.source, seed + 2, scene.token)
    config = scene.settings.training.config()
    retrain = retrain_step(
        console, scene.settings, config, scene.options.mode, scene.options.split_b
    )
    assert retrain.drift is not None  # no challenger existed: the drift check ran
    found = retrain.drift.result
    console.print(drift_view(found))
    story.steps.append(
        DriftedTraffic(sent.answered, sent.labelled, found.drifted, list(found.drifted_features))
    )
    story.steps.append(Retrained(retrain.to_dict()))
    console.print(retrain.note)
    return _Run({"stable": checked, "drifted": found}, retrain)


def _experiment(scene: _Scene, run: _Run) -> None:
    """5–6: the experiment until a decision; after a promotion, the hot swap."""
    story, options = scene.story, scene.options
    retrain = run.retrain
    assert retrain is not None and retrain.experiment is not None
    challenger = retrain.challenger
    assert challenger is not None
    wait_for(
        f"{story.api_url}/models",
        f"challenger v{challenger} loaded",
        lambda b: (b.get("challenger") or {}).get("version") == challenger,
    )
    experiment_id = retrain.experiment.experiment_id
    wait_for(
        f"{story.api_url}/ab/config",
        "the experiment",
        lambda b: b.get("experiment_id") == experiment_id,
    )
    decided, run.outcome = experiment_step(
        scene.console,
        scene.settings,
        story,
        scene.pools,
        scene.source,
        mode=options.mode,
        rounds=options.max_evaluations,
        eval_every=experiment_look(scene.pools, options),
        horizon=experiment_rows(scene.pools, options),
        world=scene.world,
        seed=options.seed,
        token=scene.token,
    )
    story.steps.append(decided)
    if run.outcome.applied and run.outcome.applied.startswith("promoted"):
        story.steps.append(hot_swap_step(story.api_url, challenger, scene.pools, scene.source))


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
    cols = tuple(drift_cols) if drift_cols else default_drift_cols(source)
    _check(source, cols, options)
    workdir = _fresh(workdir)
    pools = split_pools(source, options)
    settings = demo_settings(settings, workdir, pools, options)
    story, started = DemoStory(source.name), time.perf_counter()
    world = _world(source, pools, cols, options)
    story.steps.append(ScenarioChosen(options.scenario, world.describe()))
    console.rule(
        f"champion demo · {source.name} · {len(source.frame):,} rows · {source.schema.task}"
    )
    console.print(f"scenario {options.scenario}: {world.describe()}")
    console.print(_sizes(pools, options), highlight=False)
    step, boot = bootstrap_step(console, settings, pools.reference, settings.training.config())
    story.steps.append(step)
    env = _api_env(settings)
    with local_api(env, workdir / "api.log") as api:
        story.api_url = api.url
        console.print(f"prediction API on {api.url} (docs at {api.url}/docs)")
        token = env["CHAMPION_FEEDBACK_TOKEN"]
        scene = _Scene(console, settings, story, source, pools, world, options, token)
        run = _traffic_and_drift(scene)
        if run.retrain is not None and run.retrain.retrained:
            _experiment(scene, run)
    registry = open_registry(settings)
    story.final = {
        "seconds": round(time.perf_counter() - started, 1),
        "registry": [
            {"version": v.version, "aliases": list(v.aliases)} for v in registry.versions()
        ],
        "history": [e.__dict__ for e in registry.history()],
    }
    report = write_report(workdir / "report.html", _report(story, boot, run, settings))
    (workdir / "summary.json").write_text(
        json.dumps(story.to_dict(), indent=2, default=str), encoding="utf-8"
    )
    _print_summary(console, story, report, settings)
    return story


def _report(
    story: DemoStory, boot: lifecycle.BootstrapOutcome, run: _Run, settings: Settings
) -> DemoReport:
    assert boot.training is not None
    trainings = [
        Training(
            f"Training — champion v{boot.champion.version} (bootstrap)",
            boot.training.result,
            f"{boot.training.result.n_rows} reference rows",
        )
    ]
    retrain = run.retrain
    if retrain is not None and retrain.training is not None:
        trainings.append(
            Training(
                f"Training — challenger v{retrain.challenger} (after drift)",
                retrain.training.result,
                f"{retrain.training_rows} live labelled rows from the prediction log",
            )
        )
    outcome = run.outcome
    experiment = None
    if outcome is not None and outcome.decision is not None:
        assert outcome.champion is not None and outcome.challenger is not None
        experiment = Experiment(
            outcome.champion, outcome.challenger, outcome.decision, outcome.looks, outcome.applied
        )
    return DemoReport(
        dataset=story.dataset,
        api_url=story.api_url,
        seconds=story.final.get("seconds", 0),
        story=[s.line() for s in story.steps],
        evaluations=story.evaluations,
        history=story.final.get("history", []),
        windows=run.windows,
        trainings=trainings,
        experiment=experiment,
        tracking_uri=settings.tracking_uri,
        experiment_names=(settings.experiment_name, settings.comparison_name),
    )


def _print_summary(console: Console, story: DemoStory, report: Path, settings: Settings) -> None:
    table = Table(title="What happened")
    table.add_column("step")
    table.add_column("facts", overflow="fold")
    for step in story.steps:
        facts = {
            k: v for k, v in step.facts().items() if k != "reasons" and v not in (None, [], "")
        }
        table.add_row(step.name, ", ".join(f"{k}={v}" for k, v in facts.items()))
    console.print(table)
    for e in story.final["history"]:
        console.print(
            f"  {e['at']}  {e['action']:<8} {e['alias']:<10} -> v{e['version'] or '—'}  "
            f"{e['reason'][:90]}",
            highlight=False,
        )
    console.print(f"done in {story.final['seconds']} s · report: {report}")
    console.print(f"MLflow UI: mlflow ui --backend-store-uri {settings.tracking_uri}")
