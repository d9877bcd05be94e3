"""Can the drift alarms be trusted for a year, and do they still see real shifts?

    python benchmarks/drift_validity.py [--reps 400] [--years 40] [--json out.json]

Every verdict comes from champion's own decision code (``check_summary`` on a window
summary, the SQL window of a real SQLite log for repeated users, the classifier
two-sample test, the performance sequence), on traffic whose ground truth is known:

1. **Stationary windows** — current and reference drawn from the same distribution (a
   fresh reference each time, so its own sampling error counts): the share of one-off
   checks (alpha 0.05) that alarm, beside the share whose PSI exceeds 0.2 (which alone
   raised an alarm before), over window sizes and level counts the settings allow.
2. **Repeated users** — 200 users x 10 rows, each user's features persistent: the SQL
   window by row and by user.
3. **A year of hourly checks** — a stationary stream, 100 rows an hour, each check the
   latest 500 rows (windows overlap): the share of years with any false alarm when each
   check spends its share of alpha, beside a fixed 5 % per check.
4. **Power** — a 0.3-SD shift of one of five features; a correlation change 0 -> 0.8 with
   unchanged marginals (per-feature tests vs the joint check); a concept shift that
   costs 3 accuracy points (the performance sequence, labels checked every 100).

Shares are printed with their 95 % Monte Carlo (Wilson) interval.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from champion.abtest.moments import of_rows
from champion.abtest.performance import live_performance
from champion.drift import DriftConfig, build_profile, check_summary, summarize_frame
from champion.predictionlog import EventStore
from champion.training.two_sample import classifier_two_sample
from champion.types import DriftUnit, Task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from log_helpers import user_rows

console = Console(width=150)
HOURS = 8_760


def wilson(hits: int, n: int) -> tuple[float, float, float]:
    if n == 0:
        return math.nan, math.nan, math.nan
    p, z = hits / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def share(hits: int, n: int) -> str:
    p, lo, hi = wilson(hits, n)
    return f"{100 * p:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


# -- generators -------------------------------------------------------------------------
def _levels(count: int) -> tuple[np.ndarray, np.ndarray]:
    weights = 1.0 / np.arange(1, count + 1) ** 0.8  # a long tail of rare levels
    return np.array([f"l{i}" for i in range(count)]), weights / weights.sum()


def generator(kind: str) -> Callable[[np.random.Generator, int], pd.DataFrame]:
    if kind == "continuous":
        return lambda rng, n: pd.DataFrame({"x": rng.gamma(2.0, 3.0, n)})
    if kind == "3 levels":
        return lambda rng, n: pd.DataFrame({"x": rng.choice([0.0, 1.0, 2.0], n, p=[0.5, 0.3, 0.2])})
    if kind == "poisson":
        return lambda rng, n: pd.DataFrame({"x": rng.poisson(2.0, n).astype(float)})
    levels, shares = _levels(int(kind.split()[0]))
    return lambda rng, n: pd.DataFrame({"c": rng.choice(levels, n, p=shares)})


STATIONARY = [
    ("continuous", 10), ("continuous", 20), ("continuous", 50), ("continuous", 200),
    ("continuous", 2000), ("3 levels", 500), ("poisson", 500), ("30 levels", 200),
    ("100 levels", 200), ("100 levels", 2000),
]  # fmt: skip


def stationary(reps: int, seed: int, progress: Progress) -> list[dict]:
    out = []
    task = progress.add_task("stationary windows", total=len(STATIONARY) * reps)
    for kind, window in STATIONARY:
        rng = np.random.default_rng([seed, window, len(kind)])
        make = generator(kind)
        psi_high = alarms = 0
        for _ in range(reps):
            ref = make(rng, 2000)
            numeric = ["x"] if "x" in ref else []
            profile = build_profile(ref, numeric, [] if numeric else ["c"])
            result = check_summary(profile, summarize_frame(profile, make(rng, window)))
            psi_high += result.features[0].psi > 0.2
            alarms += result.drifted
            progress.advance(task)
        out.append({"feature": kind, "window": window, "psi_above_0.2": psi_high,
                    "alarms": alarms, "reps": reps})  # fmt: skip
    return out


# -- repeated users through the SQL window ---------------------------------------------------
def repeated_users(reps: int, seed: int, progress: Progress) -> list[dict]:
    rng = np.random.default_rng([seed, 2])
    task = progress.add_task("repeated users (SQLite)", total=reps)
    alarms = {DriftUnit.ROW: 0, DriftUnit.USER: 0}
    units = []
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(f"sqlite:///{Path(tmp) / 'events.db'}", model_name="m")
        store.migrate()
        for rep in range(reps):
            profile = build_profile(pd.DataFrame({"x": rng.normal(0, 1, 5000)}), ["x"], [])
            model = f"m{rep}"
            store.model_name = model
            store.insert_predictions(user_rows(rng, model))
            for unit in alarms:
                summary = store.served_summary(profile, limit=2000, unit=unit)
                alarms[unit] += check_summary(profile, summary).drifted
                if unit == DriftUnit.USER:
                    units.append(summary.rows)
            progress.advance(task)
        store.dispose()
    return [
        {"unit": str(unit), "alarms": n, "reps": reps, "window_units": float(np.mean(units))
         if unit == DriftUnit.USER else 2000.0}
        for unit, n in alarms.items()
    ]  # fmt: skip


# -- a year of hourly checks ---------------------------------------------------------------
def one_year(seed: int) -> dict:
    """One simulated year: per check, whether it alarmed (champion) and the smallest
    per-feature p-value (for the fixed-level comparison)."""
    rng = np.random.default_rng([seed, 3])
    numeric, categorical = generator("continuous"), generator("10 levels")
    ref = pd.concat([numeric(rng, 2000), categorical(rng, 2000)], axis=1)
    profile = build_profile(ref, ["x"], ["c"])
    stream = pd.concat([numeric(rng, 500 + 100 * HOURS), categorical(rng, 500 + 100 * HOURS)],
                       axis=1)  # fmt: skip
    config = DriftConfig()
    alarms, min_p, per_feature = [], [], []
    for j in range(1, HOURS + 1):
        window = stream.iloc[100 * j : 100 * j + 500]
        result = check_summary(profile, summarize_frame(profile, window), config, check=j)
        alarms.append(result.drifted)
        min_p.append(min(f.p_value for f in result.features))
        per_feature.append(result.alpha_per_feature)
    return {"alarms": alarms, "min_p": min_p, "alpha_per_feature": per_feature}


def year(years: int, seed: int, progress: Progress) -> dict:
    task = progress.add_task("a year of hourly checks", total=years)
    runs = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        for result in pool.map(one_year, [seed * 1000 + y for y in range(years)]):
            runs.append(result)
            progress.advance(task)
    spent = [any(r["alarms"]) for r in runs]
    alarms_per_year = [sum(r["alarms"]) for r in runs]
    # the same p-values at a lifetime alpha of 0.5 (its share per check) and at a fixed
    # 5 % per check (2 features: 2.5 % each), the rule before
    loose = [any(p < 10 * a for p, a in zip(r["min_p"], r["alpha_per_feature"], strict=True))
             for r in runs]  # fmt: skip
    fixed = [sum(p < 0.025 for p in r["min_p"]) for r in runs]
    return {"years": years, "any_alarm": int(sum(spent)), "alarms": int(sum(alarms_per_year)),
            "any_alarm_alpha_0.5": int(sum(loose)), "fixed_any": int(sum(f > 0 for f in fixed)),
            "fixed_per_year": float(np.mean(fixed))}  # fmt: skip


# -- power ---------------------------------------------------------------------------------
def power_shift(reps: int, seed: int, progress: Progress) -> list[dict]:
    rng = np.random.default_rng([seed, 4])
    out = []
    windows = (250, 500, 1000, 2000)
    task = progress.add_task("power: 0.3-SD shift", total=len(windows) * reps)
    for window in windows:
        hits = {1: 0, HOURS: 0}
        for _ in range(reps):
            ref = pd.DataFrame(rng.normal(0, 1, (5000, 5)), columns=[f"x{i}" for i in range(5)])
            cur = pd.DataFrame(rng.normal(0, 1, (window, 5)), columns=ref.columns)
            cur["x0"] += 0.3
            profile = build_profile(ref, list(ref.columns), [])
            summary = summarize_frame(profile, cur)
            for check in hits:
                hits[check] += check_summary(profile, summary, check=check).drifted
            progress.advance(task)
        out.append({"window": window, "first_check": hits[1], "check_8760": hits[HOURS],
                    "reps": reps})  # fmt: skip
    return out


def _correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], n)
    return pd.DataFrame({"a": z[:, 0], "b": z[:, 1], "c": rng.normal(0, 1, n)})


def power_joint(reps: int, seed: int, progress: Progress) -> list[dict]:
    rng = np.random.default_rng([seed, 5])
    out = []
    cases = [(0.0, 1000), (0.8, 500), (0.8, 1000), (0.8, 2000)]
    task = progress.add_task("correlation change (joint check)", total=len(cases) * reps)
    for rho, window in cases:
        marginal, joint = {1: 0, HOURS: 0}, {1: 0, HOURS: 0}
        for _ in range(reps):
            ref = _correlated(rng, 5000, 0.0)
            profile = build_profile(ref, ["a", "b", "c"], [])
            first, latest = _correlated(rng, window, 0.0), _correlated(rng, window, rho)
            test = classifier_two_sample(first, latest, ["a", "b", "c"], seed=0)
            summary = summarize_frame(profile, latest)
            for check in marginal:
                plain = check_summary(profile, summary, check=check)
                both = check_summary(profile, summary, check=check, joint=test)
                marginal[check] += plain.drifted
                joint[check] += both.drifted
            progress.advance(task)
        out.append({"rho": rho, "window": window, "marginal_first": marginal[1],
                    "marginal_8760": marginal[HOURS], "joint_first": joint[1],
                    "joint_8760": joint[HOURS], "reps": reps})  # fmt: skip
    return out


def power_concept(reps: int, seed: int, progress: Progress) -> list[dict]:
    """Accuracy 0.80 at validation; labels checked every 100 up to 20,000."""
    rng = np.random.default_rng([seed, 6])
    out = []
    cases = [(0.80, "unchanged"), (0.79, "at the floor"), (0.77, "-3 points")]
    task = progress.add_task("concept shift (performance)", total=len(cases) * reps)
    for accuracy, label in cases:
        triggered, when = 0, []
        for _ in range(reps):
            right = (rng.random(20_000) < accuracy).astype(float)
            users = rng.integers(0, 4_000, 20_000)  # users repeat: ~5 labels each
            for n in range(100, 20_001, 100):
                check = live_performance(Task.CLASSIFICATION, of_rows(right[:n], users[:n]),
                                         validation=0.80, margin=0.01, alpha=0.05)  # fmt: skip
                if check.dropped:
                    triggered += 1
                    when.append(n)
                    break
            progress.advance(task)
        out.append({"accuracy": accuracy, "case": label, "triggered": triggered, "reps": reps,
                    "median_labels": float(np.median(when)) if when else None,
                    "p90_labels": float(np.quantile(when, 0.9)) if when else None})  # fmt: skip
    return out


# -- tables --------------------------------------------------------------------------------
def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(*r)
    console.print(table)


def report(res: dict) -> None:
    _table("1. stationary windows, one-off check at alpha 0.05 (fresh 2,000-row reference each)",
           ["feature", "window", "PSI > 0.2", "champion alarms"],
           [[r["feature"], f"{r['window']:,}", share(r["psi_above_0.2"], r["reps"]),
             share(r["alarms"], r["reps"])] for r in res["stationary"]])  # fmt: skip
    _table("2. repeated users: 200 users x 10 rows, window 2,000 rows (SQL window, SQLite)",
           ["unit", "observations", "alarms"],
           [[r["unit"], f"{r['window_units']:,.0f}", share(r["alarms"], r["reps"])]
            for r in res["users"]])  # fmt: skip
    y = res["year"]
    _table(f"3. a year of hourly checks ({HOURS:,} per year, 500-row windows, {y['years']} years)",
           ["rule", "years with a false alarm", "false alarms per year"],
           [["champion (alpha 0.05 over the life)", share(y["any_alarm"], y["years"]),
             f"{y['alarms'] / y['years']:.3f}"],
            ["same p-values, alpha 0.5 over the life", share(y["any_alarm_alpha_0.5"], y["years"]),
             "–"],
            ["fixed 5 % per check (before)", share(y["fixed_any"], y["years"]),
             f"{y['fixed_per_year']:.1f}"]])  # fmt: skip
    _table("4a. power: one of five features shifted by 0.3 SD (5,000-row reference)",
           ["window", "first check", "check 8,760 (a year on)"],
           [[f"{r['window']:,}", share(r["first_check"], r["reps"]),
             share(r["check_8760"], r["reps"])] for r in res["shift"]])  # fmt: skip
    _table("4b. correlation 0 -> rho, marginals unchanged: per-feature tests vs the joint check",
           ["rho", "window", "marginals, check 1", "marginals, check 8,760", "joint, check 1",
            "joint, check 8,760"],
           [[f"{r['rho']:.1f}", f"{r['window']:,}", share(r["marginal_first"], r["reps"]),
             share(r["marginal_8760"], r["reps"]), share(r["joint_first"], r["reps"]),
             share(r["joint_8760"], r["reps"])] for r in res["joint"]])  # fmt: skip
    _table("4c. concept shift: validation accuracy 0.80, margin 0.01, a check every 100 labels",
           ["live accuracy", "case", "triggered", "median labels", "90 % by"],
           [[f"{r['accuracy']:.2f}", r["case"], share(r["triggered"], r["reps"]),
             f"{r['median_labels']:,.0f}" if r["median_labels"] else "–",
             f"{r['p90_labels']:,.0f}" if r["p90_labels"] else "–"]
            for r in res["concept"]])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--years", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    power_reps = max(20, args.reps // 4)
    with Progress(console=console) as progress:
        res = {
            "stationary": stationary(args.reps, args.seed, progress),
            "users": repeated_users(args.reps, args.seed, progress),
            "year": year(args.years, args.seed, progress),
            "shift": power_shift(power_reps, args.seed, progress),
            "joint": power_joint(max(10, args.reps // 8), args.seed, progress),
            "concept": power_concept(power_reps, args.seed, progress),
        }
    report(res)
    console.print(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    sys.exit(main())
