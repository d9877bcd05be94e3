"""Command: ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from champion.cli.app import app
from champion.cli.common import (
    DataOpt,
    DatasetOpt,
    Opt,
    TargetOpt,
    choice,
    console,
    load_source,
    split,
    split_share,
)
from champion.demo import DemoOptions, run_demo
from champion.settings import load_settings
from champion.simulation.scenarios import Scenario
from champion.types import ABMode

#: The demo's default data: large enough that every window and the experiment are
#: distinct rows and each scenario's outcome is the usual one (Titanic's 891 rows give
#: an experiment too short to show the guardrails).
DEMO_DATASET = "diamonds"


@app.command()
def demo(
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    workdir: Annotated[Path, Opt(help="Where the demo keeps its state and report.")] = Path(
        "champion-demo"
    ),
    drift_cols: Annotated[
        str | None, Opt(help="Comma-separated columns to drift (default per dataset).")
    ] = None,
    scenario: Annotated[
        str,
        Opt(
            help="What changes after the stable traffic: concept-shift (retraining helps), "
            "covariate-shift (it does not), no-drift (nothing to retrain)."
        ),
    ] = "concept-shift",
    mode: Annotated[str, Opt(help="Experiment routing: shadow | hash | random.")] = "shadow",
    split_b: Annotated[float, Opt(help="Share of traffic to the challenger (hash, random).")] = 0.5,
    rows: Annotated[
        int, Opt(min=100, help="Requests per traffic window (stable, after the change).")
    ] = 1000,
    eval_every: Annotated[int, Opt(min=50, help="Rows of traffic between evaluations.")] = 500,
    max_evaluations: Annotated[int, Opt(min=1, help="Evaluations before the horizon.")] = 12,
    budget: Annotated[float, Opt(min=1, help="AutoML seconds per training.")] = 8.0,
    shift_sd: Annotated[
        float,
        Opt(
            min=0.1,
            help="Strength of the shift: the drift columns' normal scores move by about "
            "this many SDs.",
        ),
    ] = 1.0,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
) -> None:
    """The whole lifecycle end to end, embedded: bootstrap, traffic, drift, retrain, A/B,
    promotion; a report at WORKDIR/report.html."""
    routing = choice(ABMode, mode, "--mode")
    story = choice(Scenario, scenario, "--scenario") or Scenario.CONCEPT_SHIFT
    split_share(split_b)
    options = DemoOptions(
        scenario=story,
        mode=routing or ABMode.SHADOW,
        split_b=split_b,
        rows=rows,
        eval_every=eval_every,
        max_evaluations=max_evaluations,
        budget=budget,
        shift_sd=shift_sd,
        seed=seed,
    )
    run_demo(
        load_source(dataset, data, target, default=DEMO_DATASET),
        workdir=workdir,
        drift_cols=split(drift_cols),
        options=options,
        settings=load_settings(),
        console=console,
    )
