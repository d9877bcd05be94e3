"""The demo's steps: each runs one part of the lifecycle through the same functions the
CLI and the DAGs call, shows its progress, and returns what happened as a typed step."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from champion import lifecycle
from champion.datasets import Dataset
from champion.demo.story import Bootstrapped, Decided, DemoStory, HotSwapped, look_row
from champion.errors import ChampionError
from champion.serving.process import wait_for
from champion.settings import Settings
from champion.simulation.drift import make_traffic
from champion.simulation.replay import TrafficResult, send_traffic
from champion.simulation.scenarios import World
from champion.training import TrainConfig, TrainResult
from champion.types import ABMode, Action


@dataclass(frozen=True)
class Pools:
    """The dataset cut three ways: what bootstrap trains on, the live windows retraining
    learns from, and rows no model was trained on (what the A/B test is judged on)."""

    reference: Dataset
    live: pd.DataFrame
    test: pd.DataFrame
    window_rows: int  # rows per traffic window, distinct when the live pool allows


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def scores(result: TrainResult) -> str:
    """The chosen family and its CV scores, in one line."""
    chosen = result.selection.chosen.family
    shown = ", ".join(f"{k} {v:.3f}" for k, v in result.cv_scores.items() if v == v)
    return f"{chosen} ({result.n_trials} trials), CV {shown}"


def send_window(
    console: Console,
    label: str,
    url: str,
    frame: pd.DataFrame,
    source: Dataset,
    seed: int,
    token: str,
) -> TrafficResult:
    """Replay ``frame`` with its labels; every request must be answered."""
    with progress_bar(console) as progress:
        task = progress.add_task(label, total=len(frame))
        result = send_traffic(
            url,
            frame,
            source.schema.features,
            target=source.schema.target,
            seed=seed,
            on_progress=lambda n: progress.advance(task, n),
            token=token,
        )
    if result.answered < result.sent:
        raise ChampionError(
            f"{result.sent - result.answered} of {result.sent} requests failed: "
            + "; ".join(result.errors)
        )
    return result


def bootstrap_step(
    console: Console, settings: Settings, reference: Dataset, config: TrainConfig
) -> tuple[Bootstrapped, lifecycle.BootstrapOutcome]:
    """1. No champion: AutoML on the reference split, made champion directly."""
    with progress_bar(console) as progress:
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
    assert boot.training is not None  # the demo starts from an empty store
    console.print(f"champion v{boot.champion.version}: {scores(boot.training.result)}")
    step = Bootstrapped(boot.champion.version, len(reference.frame), boot.champion.run_id)
    return step, boot


def retrain_step(
    console: Console, settings: Settings, config: TrainConfig, mode: ABMode, split_b: float
) -> lifecycle.RetrainOutcome:
    """4. Drift check on the served window; on drift, retrain and start the experiment."""
    with progress_bar(console) as progress:
        task = progress.add_task("4. drift check, retrain on live labels (s)", total=config.budget)
        return lifecycle.drift_retrain(
            settings,
            config,
            mode=mode,
            split_b=split_b,
            on_progress=lambda elapsed, _n: progress.update(
                task, completed=min(elapsed, config.budget)
            ),
        )


def experiment_step(
    console: Console,
    settings: Settings,
    story: DemoStory,
    pools: Pools,
    source: Dataset,
    *,
    mode: ABMode,
    rounds: int,
    eval_every: int,
    horizon: int,
    world: World,
    seed: int,
    token: str,
) -> tuple[Decided, lifecycle.EvaluationOutcome]:
    """5. Traffic on unseen rows and an evaluation after every window, until a decision
    (the horizon forces one by the last)."""
    outcome = None
    # rows no model was trained on, each sent once: one draw of the changed world
    order = world.sample(pools.test, horizon, seed=seed + 10)
    rounds = min(rounds, -(-len(order) // eval_every))
    with progress_bar(console) as progress:
        task = progress.add_task(f"5. {mode} experiment: traffic + evaluation", total=rounds)
        for round_ in range(rounds):
            chunk = order.iloc[round_ * eval_every : (round_ + 1) * eval_every]
            send_traffic(
                story.api_url,
                chunk,
                source.schema.features,
                target=source.schema.target,
                seed=seed + 10 + round_,
                token=token,
            )
            outcome = lifecycle.evaluate_and_promote(settings)
            decision = outcome.decision
            assert decision is not None  # a challenger is under test
            story.evaluations.append(look_row(round_ + 1, decision))
            progress.update(
                task,
                advance=1,
                description=f"5. {mode} experiment: look {round_ + 1}: {decision.action}",
            )
            if decision.action != Action.CONTINUE:
                break
    assert outcome is not None and outcome.decision is not None
    d = outcome.decision
    return Decided(d.action, outcome.applied, list(d.reasons), outcome.run_id), outcome


def hot_swap_step(url: str, version: str, pools: Pools, source: Dataset) -> HotSwapped:
    """6. After a promotion: the API answers with the new champion."""
    body = wait_for(
        f"{url}/models",
        f"the API serving v{version}",
        lambda b: (b.get("champion") or {}).get("version") == version,
    )
    probe = send_traffic(url, make_traffic(pools.test, 20, seed=99), source.schema.features)
    return HotSwapped(serving=body["champion"]["version"], probe_versions=probe.versions)
