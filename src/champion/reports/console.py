"""Results as rich renderables for the terminal: the drift table, the training
leaderboard, an A/B evaluation. The CLI and the demo print them; nothing here prints."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from champion.abtest import Decision
from champion.drift import DriftResult
from champion.training import TrainResult
from champion.types import Action, Variant

#: Short column names of the leaderboard table.
SHORT = {
    "selected": "",
    "accuracy": "acc",
    "precision": "prec",
    "log_loss": "logloss",
    "roc_auc": "auc",
    "threshold": "thr",
    "recall_at_threshold": "rec@thr",
    "precision_at_threshold": "prec@thr",
}


def drift_view(result: DriftResult) -> RenderableType:
    """The per-feature table and the verdict."""
    table = Table(title="Drift per feature")
    columns = ("feature", "kind", "PSI", "no-drift PSI", "test", "statistic", "p-value")
    for col in (*columns, "missing", "drift"):
        table.add_column(col, justify="right" if col in columns[2:] else "left")
    for f in result.features:
        table.add_row(
            f.feature,
            "num" if f.kind == "numeric" else "cat",
            f"{f.psi:.4f}",
            f"≤ {f.psi_null:.4f}" if f.psi_null is not None else "",
            "KS" if f.test == "ks" else "chi2",
            f"{f.statistic:.4g}",
            f"{f.p_value:.3g}",
            f"{f.missing_reference:.0%}→{f.missing_current:.0%}",
            "[bold red]yes[/]" if f.drifted else "[green]no[/]",
        )
    verdict = "[bold red]DRIFT[/]" if result.drifted else "[bold green]no drift[/]"
    level = f"level {result.alpha_per_feature:.3g} per test"
    if result.check is not None:
        level = f"check {result.check} of this reference, {level}"
    lines = [table, f"{verdict}: {result.reason} (mean PSI {result.mean_psi:.3f}; {level})"]
    if result.joint is not None:
        lines.append(f"joint check: {result.joint.reason}")
    return Group(*lines)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "★" if value else ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.3f}"
    return "" if value is None else str(value)


def leaderboard_view(result: TrainResult) -> RenderableType:
    """One row per estimator family, the shipped one starred, and why it was chosen."""
    board = result.leaderboard_frame()
    table = Table(title=f"Leaderboard ({result.task}, {result.config.folds}-fold CV)")
    for col in board.columns:
        table.add_column(SHORT.get(col, col), justify="left" if col == "family" else "right")
    for row in board.itertuples(index=False):
        table.add_row(*(_cell(value) for value in row))
    return Group(table, f"selected: {result.selection.reason}")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


STYLE = {Action.PROMOTE: "green", Action.REJECT: "red", Action.INVALID: "red"}


def decision_view(
    decision: Decision, *, experiment: str | None, champion: str | None, challenger: str | None
) -> RenderableType:
    """Per-variant metrics, the interval, the tests, the decision and its reasons."""
    table = Table(title=f"Experiment {experiment}")
    table.add_column("metric")
    table.add_column(f"A (v{champion})", justify="right")
    table.add_column(f"B (v{challenger})", justify="right")
    a, b = (decision.metrics[v] for v in Variant)
    for name in sorted({k for values in decision.metrics.values() for k in values}):
        table.add_row(name, _fmt(a.get(name)), _fmt(b.get(name)))
    iv = decision.interval
    kind = decision.analysis or ("paired" if decision.paired else "split")
    lines: list[RenderableType] = [
        table,
        f"B - A ({kind}, {1 - iv.alpha:.0%} anytime-valid): {iv.estimate:+.4f} "
        f"in [{iv.lower:+.4f}, {iv.upper:+.4f}], always-valid p = {iv.p_value:.3g}",
    ]
    for label, test in (
        ("sample-ratio check p (anytime-valid)", decision.srm),
        ("McNemar p", decision.mcnemar),
        ("chi-square p (fixed horizon, NOT valid under repeated looks)", decision.chi_square),
    ):
        if test is not None:
            lines.append(f"{label} = {test.p_value:.3g}")
    for g in decision.guardrails:
        lines.append(Text(f"  {g.describe()}"))
    if decision.coverage is not None:
        a, b = decision.coverage
        lines.append(f"label coverage of the rows old enough to be labelled: A {a:.1%}, B {b:.1%}")
    style = STYLE.get(decision.action, "yellow")
    lines.append(f"decision: [bold {style}]{decision.action}[/]")
    lines.extend(Text(f"  - {reason}") for reason in decision.reasons)
    return Group(*lines)
