"""The live dashboard's page: what is served, the experiment, drift, traffic and the
registry's history, rendered from a :class:`Dashboard` (plain data the API gathers) as
one HTML document with inline SVG — no script, no build step, nothing fetched; it
reloads itself every ``refresh_s`` seconds.

Every figure a test or a person may look for carries a ``data-field`` attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from champion.reports.html import STYLE
from champion.reports.svg import ALERT_COLOR, CURRENT_COLOR, minute_bars, sequence_band

EXTRA_STYLE = """
.pill{display:inline-block;padding:.1rem .6rem;border-radius:1rem;color:#fff;font-size:.85rem}
.pill.ok{background:#54a24b}.pill.degraded{background:#d62728}
.unavailable{color:#a33;font-style:italic}
.verdict.wait{background:#fff8e6;border-left:5px solid #e8a33d}
td.bad{background:#fdecea;color:#a11}td.good{color:#2a6}
.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1rem}
"""

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Dashboard:
    """Everything the page shows, gathered by the API at one moment."""

    model_name: str
    status: str  # "ok" or "degraded"
    problems: Sequence[str] = ()
    models: Mapping[str, Row | None] = field(default_factory=dict)  # slot -> model
    experiment: Row = field(default_factory=dict)  # the A/B configuration in force
    variants: Sequence[Row] = ()  # per-variant live counts
    look: Row | None = None  # the latest look: confidence sequence and decision
    task: str | None = None
    promote_margin: float = 0.0
    drift: Sequence[Row] = ()  # recorded drift checks, newest first
    traffic: Row | None = None  # minutes, quantiles, totals
    history: Sequence[Row] = ()  # alias moves, newest first
    unavailable: Mapping[str, str] = field(default_factory=dict)  # section -> why not
    refresh_s: int = 15
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _num(value: Any, fmt: str = ",.0f", none: str = "—") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return none
    return format(value, fmt)


def _cell(text: str, name: str | None = None, cls: str = "num") -> str:
    data = f" data-field='{escape(name)}'" if name else ""
    return f"<td class='{cls}'{data}>{escape(text)}</td>"


def _table(headers: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _missing(board: Dashboard, section: str) -> str:
    why = board.unavailable.get(section)
    return f"<p class='unavailable'>not available: {escape(why)}</p>" if why else ""


def _header(board: Dashboard) -> str:
    stamp = board.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    problems = "".join(f"<li>{escape(p)}</li>" for p in board.problems)
    return (
        f"<h1>champion · {escape(board.model_name)} "
        f"<span class='pill {escape(board.status)}' data-field='status'>"
        f"{escape(board.status)}</span></h1>"
        f"<p class='meta'>generated {stamp}; this page reloads every {board.refresh_s} s</p>"
        + (f"<ul data-field='problems'>{problems}</ul>" if problems else "")
    )


def _models(board: Dashboard) -> str:
    rows = []
    for slot in ("champion", "challenger"):
        m = board.models.get(slot)
        if m is None:
            rows.append(f"<tr><td>{slot}</td>{_cell('none', f'{slot}-version')}</tr>")
            continue
        rows.append(
            f"<tr><td>{slot}</td>{_cell('v' + str(m['version']), f'{slot}-version')}"
            f"{_cell(str(m.get('estimator') or '—'), cls='')}"
            f"{_cell(str(m.get('task') or '—'), cls='')}{_cell(str(m.get('path')), cls='')}"
            f"{_cell(str(len(m.get('features') or ())))}"
            f"{_cell(str(m.get('loaded_at', '—'))[:19].replace('T', ' '), cls='')}"
            f"{_cell(str(m.get('integrity') or '—'), cls='')}</tr>"
        )
    headers = ["slot", "version", "estimator", "task", "scoring", "features", "loaded (UTC)"]
    return "<h2>Models served</h2>" + _table([*headers, "files"], rows) + _missing(board, "models")


def _experiment_sentence(board: Dashboard) -> str:
    e = board.experiment
    mode = e.get("mode", "off")
    if mode == "off":
        return "<p data-field='experiment-mode'>No experiment is running (mode off).</p>"
    how = (
        "both models score every request; users get the champion's answer"
        if mode == "shadow"
        else f"{float(e.get('split_b', 0)):.0%} of traffic to the challenger, by {mode}"
    )
    since = str(e.get("updated_at", ""))[:19].replace("T", " ")
    return (
        f"<p>Experiment <b data-field='experiment-id'>{escape(str(e.get('experiment_id')))}"
        f"</b> is running in <b data-field='experiment-mode'>{escape(mode)}</b> mode: "
        f"{escape(how)}. Configured {escape(since)} UTC by {escape(str(e.get('updated_by')))}."
        "</p>"
    )


def _variants(board: Dashboard) -> str:
    quality = "MAE" if board.task == "regression" else "accuracy"
    rows = []
    for v in board.variants:
        name = v["variant"]
        value = v.get("mae") if quality == "MAE" else v.get("accuracy")
        rows.append(
            f"<tr><td>{escape(name)}</td>"
            f"{_cell(', '.join('v' + x for x in v.get('model_versions', ())), cls='')}"
            f"{_cell(_num(v['predictions']), f'predictions-{name}')}"
            f"{_cell(_num(v['labelled']), f'labelled-{name}')}"
            f"{_cell(_num(v.get('label_coverage'), '.1%'), f'coverage-{name}')}"
            f"{_cell(_num(value, '.4f'), f'{quality.lower()}-{name}')}"
            f"{_cell(_num(v.get('mean_latency_ms'), '.2f'), f'latency-{name}')}</tr>"
        )
    headers = ["variant", "versions", "predictions", "labelled", "label coverage"]
    return _table([*headers, f"{quality} (labelled)", "mean latency (ms)"], rows)


def _decision(look: Row) -> str:
    d = look.get("decision") or {}
    action = str(d.get("action", "—"))
    iv = d.get("interval") or {}
    tone = {"promote": "good", "continue": "wait"}.get(action, "bad")
    reasons = "".join(f"<li>{escape(str(r))}</li>" for r in d.get("reasons", ()))
    guards = [
        f"<tr><td>{escape(str(g['name']))}</td>{_cell(_num(g.get('estimate'), '+.4f'))}"
        f"{_cell(_num(g.get('bound'), '+.4f'))}"
        f"{_cell(('> −' if g.get('higher_is_better') else '< ') + format(g['margin'], 'g'))}"
        f"{_cell('passes' if g.get('passed') else 'not shown yet', cls='good' if g.get('passed') else 'bad')}</tr>"  # noqa: E501
        for g in d.get("guardrails", ())
    ]
    looked = str(look.get("looked_at") or "")[:19].replace("T", " ")
    lo, hi = _num(iv.get("lower"), "+.4f", "−∞"), _num(iv.get("upper"), "+.4f", "+∞")
    return (
        f"<div class='verdict {tone}'>Latest look ({escape(looked)} UTC) "
        f"decided <b data-field='decision'>{escape(action)}</b>: B − A "
        f"<span data-field='estimate'>{_num(iv.get('estimate'), '+.4f')}</span> in "
        f"[{lo}, {hi}]<ul>{reasons}</ul></div>"
        + (
            "<h3>Guardrails (anytime-valid bounds)</h3>"
            + _table(["guardrail", "B − A", "bound", "must clear", "verdict"], guards)
            if guards
            else ""
        )
    )


def _experiment(board: Dashboard) -> str:
    parts = ["<h2>Experiment</h2>", _experiment_sentence(board), _missing(board, "experiment")]
    if board.variants:
        parts.append(_variants(board))
    look = board.look
    if look:
        points = [tuple(p) for p in look.get("looks", ())]
        unit = "MAE, target units" if board.task == "regression" else "accuracy, share"
        parts.append("<h3>Confidence sequence of B − A, one point per look</h3>")
        parts.append(
            sequence_band(
                points,  # type: ignore[arg-type]
                chart="confidence-sequence",
                y_label=f"B − A ({unit})",
                x_label="labelled rows seen by the look",
                boundary=board.promote_margin,
                width=720,
                height=280,
            )
        )
        parts.append(_decision(look))
    elif board.experiment.get("mode", "off") != "off":
        parts.append("<p>No look at this experiment yet (the evaluation runs on schedule).</p>")
    return "".join(parts)


def _drift(board: Dashboard) -> str:
    checks = list(board.drift)[:8]
    head = "<h2>Drift, per feature, over the latest checks</h2>" + _missing(board, "drift")
    if not checks:
        return head + "<p>No scheduled drift check recorded yet.</p>"
    latest = checks[0]
    verdict = "found drift" if latest["drifted"] else "found no drift"
    sentence = (
        f"<p>The latest check (number {latest['check_number']}, "
        f"{str(latest['checked_at'])[:16].replace('T', ' ')} UTC, {latest['rows']:,} rows, "
        f"level {latest['alpha_check']:.2g}) <b data-field='drift-latest'>{verdict}</b>: "
        f"{escape(str(latest['reason']))}</p>"
    )
    features = sorted({f for c in checks for f in c["features"]})
    headers = ["feature"] + [
        f"#{c['check_number']} {str(c['checked_at'])[5:16].replace('T', ' ')}" for c in checks
    ]
    rows = []
    for name in features:
        cells = []
        for c in checks:
            f = c["features"].get(name)
            if f is None:
                cells.append(_cell("—"))
                continue
            text = f"p {_num(f.get('p_value'), '.2g')} · {f.get('test', '')}"
            cells.append(_cell(text, cls="bad" if f.get("drifted") else "num"))
        rows.append(f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>")
    return (
        head
        + sentence
        + _table(headers, rows)
        + (
            "<p class='meta'>Each cell: the feature's p-value and test at that check; red: "
            "drifted at the check's level (its share of the lifetime false-alarm budget).</p>"
        )
    )


def _traffic(board: Dashboard) -> str:
    t = board.traffic
    head = "<h2>Traffic, last hour</h2>" + _missing(board, "traffic")
    if not t:
        return head
    q = t["quantiles"]
    served, failed = t["requests"], t["failed"]
    share = failed / (served + failed) if served + failed else 0.0
    sentence = (
        f"<p><span data-field='requests'>{served:,}</span> requests answered "
        f"(<span data-field='rate'>{t['rate_per_s']:.2f}</span>/s), "
        f"<span data-field='errors'>{failed:,}</span> model errors ({share:.2%}); latency "
        f"p50 <span data-field='p50'>{_num(q.get('p50'), '.1f')}</span> ms, p95 "
        f"<span data-field='p95'>{_num(q.get('p95'), '.1f')}</span> ms, p99 "
        f"{_num(q.get('p99'), '.1f')} ms (commit included).</p>"
    )
    minutes = t["minutes"]
    requests = [(m["start"][11:16], float(m["requests"])) for m in minutes]
    latency = [(m["start"][11:16], float(m["mean_latency_ms"] or 0.0)) for m in minutes]
    errors = [(m["start"][11:16], float(m["failed"])) for m in minutes]
    charts = (
        minute_bars(requests, chart="requests", y_label="requests / minute")
        + minute_bars(
            latency,
            chart="latency",
            y_label="mean latency (ms)",
            color=CURRENT_COLOR,
            y_format=",.1f",
        )
        + minute_bars(errors, chart="errors", y_label="model errors / minute", color=ALERT_COLOR)
    )
    return head + sentence + f"<div class='cols'>{charts}</div>"


def _history(board: Dashboard) -> str:
    rows = [
        f"<tr><td>{escape(str(e['at'])[:19].replace('T', ' '))}</td>"
        f"<td>{escape(str(e['action']))}</td><td>{escape(str(e['alias']))}</td>"
        f"{_cell('v' + str(e['version']) if e.get('version') else '—')}"
        f"{_cell('v' + str(e['previous']) if e.get('previous') else '—')}"
        f"<td>{escape(str(e['actor']))}</td><td>{escape(str(e['reason'])[:200])}</td></tr>"
        for e in list(board.history)[:20]
    ]
    headers = ["at (UTC)", "action", "alias", "version", "was", "by", "why"]
    return (
        "<h2>Registry history</h2>"
        + _missing(board, "history")
        + (_table(headers, rows) if rows else "<p>No alias moves recorded.</p>")
    )


def render_dashboard(board: Dashboard) -> str:
    """The whole page."""
    body = "".join(
        [
            _header(board),
            _models(board),
            _experiment(board),
            _drift(board),
            _traffic(board),
            _history(board),
        ]
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{int(board.refresh_s)}'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>champion · {escape(board.model_name)}</title>"
        f"<style>{STYLE}{EXTRA_STYLE}</style></head><body>{body}</body></html>"
    )
