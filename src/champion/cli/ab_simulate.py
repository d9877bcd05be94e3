"""Command: ``ab simulate`` (and its ``--plan`` form): the decision rule on simulated
experiments with known ground truth."""

from __future__ import annotations

import json
from typing import Annotated, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from champion.abtest import Outcome, Policy, Scenario, plan, simulate
from champion.cli.app import ab_app
from champion.cli.common import JsonOpt, Opt, choice, console, err_console
from champion.errors import InvalidInputError
from champion.settings import load_settings
from champion.types import ABMode, Task

Share = Annotated[float | None, Opt(min=0, max=1, help="Default: the accuracy.")]


def _split_change(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        when, split = (float(v) for v in value.split(":"))
    except ValueError:
        raise InvalidInputError(
            f"--split-change must be WHEN:SPLIT (e.g. 0.5:0.5), got {value!r}"
        ) from None
    if not (0 < when < 1 and 0 <= split <= 1):
        raise InvalidInputError("--split-change: WHEN in (0, 1), SPLIT in [0, 1]")
    return when, split


def _rates(outcome: Outcome) -> Table:
    table = Table(title=f"{outcome.reps} simulated experiments (95 % Monte Carlo intervals)")
    for col in ("outcome", "share", "95 % interval"):
        table.add_column(col, justify="left" if col == "outcome" else "right")
    for name, rate in (
        ("promoted", outcome.promoted),
        ("rejected as worse", outcome.rejected),
        ("invalid", outcome.invalid),
        ("no decision by the horizon", outcome.undecided),
    ):
        table.add_row(name, f"{rate.share:.1%}", f"[{rate.low:.1%}, {rate.high:.1%}]")
    return table


@ab_app.command("simulate")
def ab_simulate(
    task: Annotated[str, Opt(help="classification | regression.")] = "classification",
    mode: Annotated[str, Opt(help="hash | random | shadow.")] = "hash",
    split_b: Annotated[float, Opt(min=0, max=1, help="The challenger's share.")] = 0.5,
    split_change: Annotated[str | None, Opt(help="WHEN:SPLIT, e.g. 0.5:0.5 (halfway).")] = None,
    rows: Annotated[int, Opt(min=100, help="Requests served over the experiment.")] = 40_000,
    users: Annotated[
        int | None, Opt(min=2, help="Distinct users (default: one per request).")
    ] = None,
    user_effect: Annotated[float, Opt(min=0, help="SD of a user's effect on the log-odds.")] = 0.0,
    accuracy_a: Annotated[float, Opt(min=0, max=1, help="The champion's accuracy.")] = 0.8,
    accuracy_b: Annotated[float, Opt(min=0, max=1, help="The challenger's accuracy.")] = 0.8,
    recall_a: Share = None,
    recall_b: Share = None,
    prevalence: Annotated[float, Opt(min=0, max=1, help="Share of positive labels.")] = 0.5,
    agreement: Annotated[float, Opt(min=0, max=1, help="Chance B errs where A does.")] = 0.0,
    errors: Annotated[str, Opt(help="Regression: normal | lognormal | pareto.")] = "normal",
    error_shape: Annotated[float, Opt(help="lognormal sigma, pareto alpha.")] = 1.0,
    scale_a: Annotated[float, Opt(help="Regression: the champion's error scale.")] = 1.0,
    scale_b: Annotated[float, Opt(help="Regression: the challenger's error scale.")] = 1.0,
    label_share: Annotated[float, Opt(min=0, max=1, help="Requests ever labelled.")] = 1.0,
    delay_a: Annotated[float, Opt(min=0, help="Mean label delay, A's rows (s).")] = 0.0,
    delay_b: Annotated[float, Opt(min=0, help="Mean label delay, B's rows (s).")] = 0.0,
    failure_b: Annotated[float, Opt(min=0, max=1, help="The challenger's failure rate.")] = 0.0,
    look_every: Annotated[int, Opt(min=1, help="Labels between looks.")] = 500,
    horizon: Annotated[int | None, Opt(min=3, help="Default: CHAMPION_AB_MAX_LABELLED.")] = None,
    reps: Annotated[int, Opt(min=1, help="Simulated experiments.")] = 500,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
    plan_: Annotated[
        bool, Opt("--plan", help="Say how many labels the lift needs instead.")
    ] = False,
    power: Annotated[float, Opt(min=0.01, max=0.999, help="--plan: wanted power.")] = 0.9,
    as_json: JsonOpt = False,
) -> None:
    """Run the real decision rule on simulated experiments: promotion, rejection and
    no-decision rates with their Monte Carlo error, and the labels a promotion takes
    (requests arrive one per second; label delays are in seconds)."""
    kind, routing = choice(Task, task, "--task"), choice(ABMode, mode, "--mode")
    assert kind is not None and routing is not None
    if routing == ABMode.OFF:
        raise InvalidInputError("--mode off runs no experiment: use hash, random or shadow")
    pos_a, neg_a = _rates_of(accuracy_a, recall_a, prevalence, "A")
    pos_b, neg_b = _rates_of(accuracy_b, recall_b, prevalence, "B")
    scenario = Scenario(
        task=kind,
        mode=routing,
        split_b=split_b,
        split_change=_split_change(split_change),
        rows=rows,
        users=users,
        user_effect=user_effect,
        prevalence=prevalence,
        tpr_a=pos_a,
        tnr_a=neg_a,
        tpr_b=pos_b,
        tnr_b=neg_b,
        agreement=agreement,
        errors=errors,
        error_shape=error_shape,
        scale_a=scale_a,
        scale_b=scale_b,
        label_share=label_share,
        delay_a=delay_a,
        delay_b=delay_b,
        failure_b=failure_b,
    )
    scenario.check()  # before any progress bar takes the terminal
    policy = load_settings().ab.policy(max_labelled=horizon)
    run = {"reps": reps, "seed": seed, "look_every": look_every}
    if plan_:
        _print_plan(plan(scenario, policy, power=power, **run), as_json)
    else:
        _print_outcome(_simulate(scenario, policy, run), as_json)


def _simulate(scenario: Scenario, policy: Policy, run: dict[str, int]) -> Outcome:
    progress = Progress(
        TextColumn("experiments"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task_id = progress.add_task("experiments", total=run["reps"])
        return simulate(scenario, policy, **run, on_progress=lambda k: progress.advance(task_id, k))


def _print_outcome(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(outcome.to_dict()))
        return
    console.print(_rates(outcome))
    labels = "—" if outcome.median_labels is None else f"{outcome.median_labels:,.0f}"
    console.print(f"median labels at a promotion: {labels}; looks per experiment: {outcome.looks}")


def _print_plan(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(found))
        return
    labels = "not reached by the horizon"
    if found["labels"] is not None:
        labels = f"{found['labels']:,.0f} labels"
    console.print(
        f"{found['power']:.0%} power: {labels} ({found['promoted_by_horizon']:.1%} promoted by "
        f"{found['horizon']:,} labels over {found['reps']} experiments)"
    )


def _rates_of(
    accuracy: float, recall: float | None, prevalence: float, arm: str
) -> tuple[float, float]:
    """(true-positive rate, true-negative rate) giving ``accuracy`` with ``recall``."""
    if recall is None:
        return accuracy, accuracy
    if prevalence >= 1:
        return recall, recall
    negative = (accuracy - prevalence * recall) / (1 - prevalence)
    if not 0 <= negative <= 1:
        raise InvalidInputError(
            f"arm {arm}: accuracy {accuracy} is impossible with recall {recall} at prevalence "
            f"{prevalence}"
        )
    return recall, negative
