"""Is the promotion rule honest under repeated looks? The original rule against champion's.

    python benchmarks/ab_validity.py [--reps 2000] [--seed 7]

Simulated experiments, accuracy 0.80 for the champion A; the challenger B is equal
(A/A), 1 point or 3 points better. Labels arrive 500 at a time (250 per arm in a 50/50
split) and every arrival is a look, up to 20,000 labels:

* **original** — the hourly job of the original pipeline: a chi-square test on accuracy
  (``scipy.stats.chi2_contingency``, Yates-corrected) at every look; promote as soon as
  p < 0.05 with B ahead.
* **champion split** — the decision of ``champion.abtest.decide``: the anytime-valid
  confidence sequence (alpha 0.05, N* 10,000); promote when its lower bound is above 0,
  reject when its upper bound is below 0, reject at the horizon; nothing before 200
  labels per arm.
* **champion shadow** — the same rule, paired: both models scored every row and agree
  on 90 % of them.

The sequences are computed vectorised with ``champion.abtest.half_width``; a cross-check
replays the first replications of each scenario through ``decide()`` itself (guardrails
off: they would only hold back promotions) and requires the same decisions.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import stats as sps

from champion.abtest import half_width
from champion.abtest.decision import Arm, Policy, decide

ALPHA, N_STAR, P_A, STEP, HORIZON, MIN_PER_ARM = 0.05, 10_000, 0.80, 500, 20_000, 200
LOOKS = np.arange(STEP, HORIZON + 1, STEP)
console = Console()


def _yates_p(sa: np.ndarray, sb: np.ndarray, n: np.ndarray) -> np.ndarray:
    """chi2_contingency's p-value on [[sa, n - sa], [sb, n - sb]], vectorised."""
    a, b, c, d = sa, n - sa, sb, n - sb
    total = 2 * n
    cols = (a + c) * (b + d)
    diff = np.maximum(np.abs(a * d - b * c) - total / 2, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(cols > 0, total * diff**2 / (n * n * cols), 0.0)
    return sps.chi2.sf(stat, 1)


def _first(hit: np.ndarray) -> np.ndarray:
    """Index of the first True per row, or -1."""
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1)


def _outcome(promote: np.ndarray, worse: np.ndarray, *, horizon_rejects: bool) -> dict:
    """Per replication, the first of promote / reject-as-worse; else the horizon."""
    p, r = _first(promote), _first(worse)
    never = len(LOOKS) + 1
    p_at, r_at = np.where(p < 0, never, p), np.where(r < 0, never, r)
    promoted = p_at < r_at
    rejected = (r_at < p_at) & (r_at < never)
    stop = np.minimum(np.minimum(p_at, r_at), len(LOOKS) - 1)
    undecided = ~promoted & ~rejected
    return {
        "promoted": float(promoted.mean()),
        "worse": float(rejected.mean()),
        "horizon": float(undecided.mean()),
        "labels": float(LOOKS[stop].mean()),
        "_decisions": np.where(
            promoted, 1, np.where(rejected | (undecided & horizon_rejects), -1, 0)
        ),
    }


def split_experiment(p_b: float, reps: int, rng: np.random.Generator) -> dict[str, dict]:
    per_arm = STEP // 2
    right_a = rng.binomial(per_arm, P_A, size=(reps, len(LOOKS))).cumsum(axis=1)
    right_b = rng.binomial(per_arm, p_b, size=(reps, len(LOOKS))).cumsum(axis=1)
    n = LOOKS // 2
    ma, mb = right_a / n, right_b / n
    var = ma * (1 - ma) / (n - 1) + mb * (1 - mb) / (n - 1)
    hw = half_width(var, LOOKS, ALPHA, N_STAR)
    naive = (_yates_p(right_a, right_b, n) < ALPHA) & (mb > ma)
    original = _outcome(naive, np.zeros_like(naive), horizon_rejects=False)
    lower, upper = (mb - ma) - hw, (mb - ma) + hw
    ready = n >= MIN_PER_ARM
    champ = _outcome(ready & (lower > 0), ready & (upper < 0), horizon_rejects=True)
    champ["_counts"] = (right_a, right_b)
    return {"original": original, "champion split": champ}


def shadow_experiment(p_b: float, reps: int, rng: np.random.Generator) -> dict:
    """Models agree on 90 % of rows: P(only A right) = q, P(only B right) = q + (p_b - P_A)."""
    q = (0.10 - (p_b - P_A)) / 2
    both = P_A - q
    probs = [both, q, q + (p_b - P_A), 1 - both - 2 * q - (p_b - P_A)]
    counts = np.stack([rng.multinomial(STEP, probs, size=reps) for _ in LOOKS], axis=1).cumsum(
        axis=1
    )
    only_a, only_b = counts[..., 1], counts[..., 2]
    mean = (only_b - only_a) / LOOKS
    var = ((only_a + only_b) / LOOKS - mean**2) * LOOKS / (LOOKS - 1) / LOOKS
    hw = half_width(var, LOOKS, ALPHA, N_STAR)
    ready = LOOKS >= MIN_PER_ARM
    return _outcome(ready & (mean - hw > 0), ready & (mean + hw < 0), horizon_rejects=True)


def cross_check(p_b: float, result: dict, replications: int) -> int:
    """Replay split replications through decide(); return how many agree."""
    right_a, right_b = result["_counts"]
    policy = Policy(
        alpha=ALPHA,
        n_star=N_STAR,
        min_labelled=MIN_PER_ARM,
        max_labelled=HORIZON,
        srm_alpha=1e-300,
        precision_margin=1.0,
        recall_margin=1.0,
        error_rate_margin=1.0,
        latency_p95_margin_ms=1e9,
    )
    from champion.abtest import chi_square_accuracy

    n = LOOKS[:3] // 2
    mine = _yates_p(right_a[0, :3], right_b[0, :3], n)
    for k in range(3):
        reference = chi_square_accuracy(
            int(right_a[0, k]), int(n[k]), int(right_b[0, k]), int(n[k])
        )
        assert abs(mine[k] - reference.p_value) < 1e-9, (mine[k], reference)
    agree = 0
    for rep in range(replications):
        verdict = 0
        for k, total in enumerate(LOOKS):
            n = int(total // 2)
            arms = []
            for right in (right_a[rep, k], right_b[rep, k]):
                y = np.ones(n, dtype=np.int64)
                pred = np.concatenate(
                    [np.ones(int(right), np.int64), np.zeros(n - int(right), np.int64)]
                )
                arms.append(Arm(y, pred, np.ones(n), n, 0))
            action = decide(
                arms[0], arms[1], task="classification", split_b=0.5, policy=policy
            ).action
            if action in ("promote", "reject"):
                verdict = 1 if action == "promote" else -1
                break
        agree += verdict == result["_decisions"][rep]
    return agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--check", type=int, default=100, help="replications replayed via decide()")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    table = Table(
        title=f"Promotion under repeated looks: {args.reps} experiments per row, a look every "
        f"{STEP} labels up to {HORIZON:,}, A accuracy {P_A:.2f}"
    )
    for col in (
        "B vs A",
        "rule",
        "promoted",
        "rejected: worse",
        "no decision by 20k",
        "mean labels",
    ):
        table.add_column(col, justify="left" if col in ("B vs A", "rule") else "right")
    summary = {}
    for name, p_b in (("equal (A/A)", 0.80), ("+1 point", 0.81), ("+3 points", 0.83)):
        results = split_experiment(p_b, args.reps, rng)
        results["champion shadow"] = shadow_experiment(p_b, args.reps, rng)
        agree = cross_check(p_b, results["champion split"], min(args.check, args.reps))
        if agree != min(args.check, args.reps):
            raise SystemExit(f"cross-check failed for {name}: {agree}/{args.check} agree")
        for rule, r in results.items():
            table.add_row(
                name,
                rule,
                f"{r['promoted']:.2%}",
                f"{r['worse']:.2%}" if rule != "original" else "—",
                f"{r['horizon']:.2%}" + (" (rejected)" if rule != "original" else ""),
                f"{r['labels']:,.0f}",
            )
            summary[(name, rule)] = r
        table.add_section()
    console.print(table)
    fp_orig = summary[("equal (A/A)", "original")]["promoted"]
    fp_champ = summary[("equal (A/A)", "champion split")]["promoted"]
    power = summary[("+3 points", "champion split")]["promoted"]
    console.print(
        f"false promotion, champion/original: {fp_champ:.2%} / {fp_orig:.2%} = "
        f"{fp_champ / fp_orig:.2f}×; champion's power at +3 points: {power:.2%}; "
        f"decide() agreed on {min(args.check, args.reps)} replayed experiments per scenario "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
