"""Report sections of the A/B story: training leaderboards, the confidence sequence over
time, the decision and why."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import pandas as pd

from champion.abtest import Decision, Look
from champion.reports.html import table
from champion.reports.svg import sequence_band


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) > 1 else f"{value:.4f}"
    return str(value)


def leaderboard_section(heading: str, board: pd.DataFrame, note: str = "") -> str:
    """One training run's leaderboard (one row per estimator family)."""
    headers = [str(c) for c in board.columns]
    rows = [[_cell(v) for v in record] for record in board.itertuples(index=False)]
    classes = [
        "drifted" if "selected" in board and r[headers.index("selected")] else "" for r in rows
    ]
    extra = f"<p class='meta'>{escape(note)}</p>" if note else ""
    return f"<h2>{escape(heading)}</h2>{extra}{table(headers, rows, classes)}"


def _guardrail_table(decision: Decision) -> str:
    """Each guardrail's B - A, the anytime-valid bound that must clear its margin, and
    whether it does."""
    return table(
        ["guardrail", "B − A", "bound", "must clear", "verdict"],
        [
            [
                g.name,
                f"{g.estimate:+.4f}",
                f"{g.bound:+.4f}",
                f"> −{g.margin:g}" if g.higher_is_better else f"< {g.margin:g}",
                "passes" if g.passed else "not shown yet",
            ]
            for g in decision.guardrails
        ],
    )


def ab_section(
    decision: Decision,
    looks: Sequence[Look],
    *,
    heading: str,
    evaluations: Sequence[tuple[int, str]] = (),
    applied: str | None = None,
    boundary: float = 0.0,
) -> str:
    """The decision with its reasons, per-variant metrics and the sequence over time
    (``boundary``: the promotion margin the lower bound must clear)."""
    good = decision.action == "promote"
    iv = decision.interval
    kind = decision.analysis or ("paired" if decision.paired else "split")
    verdict = (
        f"<div class='verdict {'good' if good else 'bad'}'><b>{escape(decision.action)}</b>"
        f"{' — ' + escape(applied) if applied else ''}<br>B − A ({kind}, "
        f"{1 - iv.alpha:.0%} anytime-valid): {iv.estimate:+.4f} in [{iv.lower:+.4f}, "
        f"{iv.upper:+.4f}], always-valid p = {iv.p_value:.3g}<ul>"
        + "".join(f"<li>{escape(r)}</li>" for r in decision.reasons)
        + "</ul></div>"
    )
    names = sorted({k for values in decision.metrics.values() for k in values})
    metrics = table(
        ["metric", "A (champion)", "B (challenger)"],
        [
            [n, _cell(decision.metrics["A"].get(n)), _cell(decision.metrics["B"].get(n))]
            for n in names
        ],
    )
    guards = _guardrail_table(decision)
    tests = []
    for label, test in (
        ("sample-ratio check (anytime-valid)", decision.srm),
        ("McNemar (paired)", decision.mcnemar),
        (
            "chi-square on accuracy — fixed horizon, NOT valid under repeated looks",
            decision.chi_square,
        ),
    ):
        if test is not None:
            tests.append([label, f"{test.statistic:.4g}", f"{test.p_value:.3g}"])
    regression = "mae" in decision.metrics.get("A", {})
    unit = "−absolute error, target units" if regression else "accuracy, share of labels"
    chart = sequence_band(
        [(look.labelled, look.estimate, look.lower, look.upper) for look in looks],
        chart="confidence-sequence",
        marks=[(float(n), label) for n, label in evaluations],
        x_label="labelled rows (in the order the labels arrived); dotted lines: evaluations",
        y_label=f"B − A ({unit})",
        boundary=boundary,
    )
    return (
        f"<h2>{escape(heading)}</h2>{verdict}"
        "<h3>Confidence sequence of B − A over time</h3>"
        f"{chart}<h3>Guardrails (anytime-valid bounds)</h3>{guards}"
        f"<h3>Per-variant metrics</h3>{metrics}"
        + (table(["test", "statistic", "p-value"], tests) if tests else "")
    )
