"""Every figure of the dashboard, as pure functions: API data in, plotly figure out.

    cid_figure          one run's CID over label steps, rounds marked (the paper's Figure 3)
    compare_cid_figure  several runs' CID curves overlaid (Figure 3's three models)
    histogram_figure    a probe's A and B influence scores at a step (the paper's Figure 1)
    curves_figure       training curves (loss, accuracy per split)
    table2_figure       test accuracy by method and dataset, mean +- std over seeds (Table 2)
    empty_figure        a blank figure that says why it is blank

No HTTP and no Dash here: tests call these directly.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from scipy import stats

from dashboard import semantics
from jobs.contracts.cid import CidPoint
from jobs.contracts.enums import CidPhase, MethodName

A_COLOR = "#e8743b"  # group A, same confound as the probe (orange, as in the paper's Figure 1)
B_COLOR = "#3b7dd8"  # group B, the other confound
RUN_COLORS = ("#3b7dd8", "#e8743b", "#2e9e5b", "#9b59b6", "#c0392b", "#7f8c8d", "#d4ac0d", "#16a085")
MARGIN = {"l": 60, "r": 20, "t": 50, "b": 50}
# A light look built once: plotly's own "plotly_white" is validated anew for every figure, which
# cost more than the data on a large run.
STYLE = go.layout.Template(layout={
    "plot_bgcolor": "white", "paper_bgcolor": "white", "font": {"color": "#2a3f5f"},
    "xaxis": {"gridcolor": "#ebf0f8", "linecolor": "#ebf0f8", "zerolinecolor": "#ebf0f8", "automargin": True},
    "yaxis": {"gridcolor": "#ebf0f8", "linecolor": "#ebf0f8", "zerolinecolor": "#ebf0f8", "automargin": True},
    "colorway": list(RUN_COLORS), "hovermode": "closest"})


def empty_figure(message: str, title: str | None = None) -> go.Figure:
    """A figure with no data and `message` in its middle."""
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                          font={"size": 14, "color": "#666"})
    figure.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False},
                         margin=MARGIN, template=STYLE, height=320)
    return figure


def _vline(x: float, color: str = "#aaa", dash: str = "dot", width: float = 1) -> dict:
    # Shapes are given as plain dicts in one update_layout: add_vline copies the whole layout
    # on every call, which took seconds for a run with a hundred rounds.
    return {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
            "line": {"color": color, "dash": dash, "width": width}}


def _zero_line() -> dict:
    return {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
            "line": {"color": "#999", "width": 1}}


def _mode(points: int) -> str:
    # Markers while a line is short (a single point shows); a long one is drawn as one path.
    return "lines+markers" if points <= 200 else "lines"


def _finite(value) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def value_range(values: Iterable, include_zero: bool = True) -> list[float] | None:
    """A y range that fits the finite values (and 0, where a zero line is drawn) with a little
    room: Plotly pads a single value (or equal ones) out to ±1, which makes one CID point of
    2e-6 look like a scale from −1 to 1."""
    finite = [float(v) for v in values if _finite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    span = high - low
    pad = 0.08 * span if span > 0 else max(abs(high), 0.01)
    return [low - pad, high + pad]


CidPoints = Sequence[CidPoint | dict]  # an answer's points, or as a page holds them (JSON in a dcc.Store)


def cid_points(points: Iterable[CidPoint | dict]) -> list[CidPoint]:
    """The points as jobs.contracts.cid.CidPoint, whichever way they came."""
    return [p if isinstance(p, CidPoint) else CidPoint.model_validate(p) for p in points]


def round_steps(points: Iterable[CidPoint | dict]) -> list[int]:
    """Label steps at which an influence-tuning round ran (those with a pre- or post-round point)."""
    return sorted({p.step for p in cid_points(points) if p.phase in (CidPhase.PRE_ROUND, CidPhase.POST_ROUND)})


def _cid_line(points: Sequence[CidPoint]) -> tuple[list[int], list[float | None]]:
    # Recording order: a round's pre- and post-round points share a step, so the line drops
    # vertically there, as in the paper's Figure 3.
    return [p.step for p in points], [p.value if _finite(p.value) else None for p in points]


def cid_figure(points: CidPoints, title: str = "CID over training (Figure 3)") -> go.Figure:
    """One run's CID points ({"step", "phase", "value"}, recording order) as a line over label
    steps; the points just before and after each influence-tuning round are marked, and each
    round's step gets a dotted vertical line."""
    if not points:
        return empty_figure("No CID points yet: the first is measured at step 0, then every "
                            "diagnostics.cid_every steps.", title)
    points = cid_points(points)
    steps, values = _cid_line(points)
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=steps, y=values, mode=_mode(len(steps)), name="CID", line={"color": B_COLOR},
                                marker={"size": 4}, hovertemplate="step %{x}<br>CID %{y:.4f}<extra></extra>"))
    for phase, symbol, color, name in ((CidPhase.PRE_ROUND, "triangle-up", A_COLOR, "before a round"),
                                       (CidPhase.POST_ROUND, "triangle-down", "#2e9e5b", "after a round"),
                                       (CidPhase.FINAL, "star", "#333", "final")):
        chosen = [p for p in points if p.phase == phase and _finite(p.value)]
        if chosen:
            figure.add_trace(go.Scatter(
                x=[p.step for p in chosen], y=[p.value for p in chosen], mode="markers", name=name,
                marker={"symbol": symbol, "size": 11, "color": color},
                hovertemplate=f"{name}<br>step %{{x}}<br>CID %{{y:.4f}}<extra></extra>"))
    shapes = [_vline(step) for step in round_steps(points)] + [_zero_line()]
    figure.update_layout(shapes=shapes, title=title, xaxis_title="label step", yaxis_title="CID (mean over probes)",
                         margin=MARGIN, template=STYLE, height=380, legend={"orientation": "h", "y": -0.2},
                         yaxis_range=value_range(values))
    return figure


def compare_cid_figure(runs: Sequence[dict], title: str = "CID of several runs (Figure 3)") -> go.Figure:
    """Runs [{"label", "points"}] as one CID line each (rounds show as vertical drops)."""
    drawn = [run for run in runs if run.get("points")]
    if not drawn:
        return empty_figure("Choose two or more runs that have CID points.", title)
    figure = go.Figure()
    lines = [_cid_line(cid_points(run["points"])) for run in drawn]
    for i, (run, (steps, values)) in enumerate(zip(drawn, lines, strict=True)):
        figure.add_trace(go.Scatter(x=steps, y=values, mode=_mode(len(steps)), name=run["label"],
                                    line={"color": RUN_COLORS[i % len(RUN_COLORS)]}, marker={"size": 4},
                                    hovertemplate=f"{run['label']}<br>step %{{x}}<br>CID %{{y:.4f}}<extra></extra>"))
    figure.update_layout(shapes=[_zero_line()], title=title, xaxis_title="label step",
                         yaxis_title="CID (mean over probes)", margin=MARGIN, template=STYLE, height=420,
                         legend={"orientation": "h", "y": -0.2},
                         yaxis_range=value_range(v for _, values in lines for v in values))
    return figure


def experiment_cid_figure(rows: Sequence[dict], title: str = "Mean CID per method over training (Figure 3)") -> go.Figure:
    """GET /api/experiments/{id}/cid rows ({"dataset", "step", "phase", "methods": {m: {"mean",
    "n"}}}, ordered by step then phase) as one line per dataset and method: each method's CID
    averaged over its succeeded seeds; a round's pre- and post-round points share a step, so
    the line drops there."""
    lines: dict[tuple[str, str], list[tuple[int, str, float | None, int]]] = {}
    for row in rows:
        for method, found in row["methods"].items():
            lines.setdefault((row["dataset"], method), []).append((row["step"], row["phase"], found["mean"], found["n"]))
    if not lines:
        return empty_figure("No succeeded run of this experiment has CID points yet.", title)
    several = len({dataset for dataset, _ in lines}) > 1
    figure = go.Figure()
    for i, ((dataset, method), points) in enumerate(lines.items()):
        name = f"{dataset} · {method}" if several else method
        figure.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[2] for p in points], mode=_mode(len(points)), name=name,
            customdata=[[p[1], p[3]] for p in points], line={"color": RUN_COLORS[i % len(RUN_COLORS)]},
            marker={"size": 5},
            hovertemplate=f"{name}<br>step %{{x}} (%{{customdata[0]}})<br>mean CID %{{y:.4f}} over "
                          f"%{{customdata[1]}} runs<extra></extra>"))
    figure.update_layout(shapes=[_zero_line()], title=title, xaxis_title="label step",
                         yaxis_title="CID (mean over probes and seeds)", margin=MARGIN, template=STYLE, height=420,
                         legend={"orientation": "h", "y": -0.2},
                         yaxis_range=value_range(p[2] for points in lines.values() for p in points))
    return figure


def welch(a: Sequence[float | None], b: Sequence[float | None]) -> tuple[float | None, float | None]:
    """(mean(a) - mean(b), two-sided Welch t-test p-value); None where undefined."""
    a_values = np.array([x for x in a if _finite(x)], dtype=float)
    b_values = np.array([x for x in b if _finite(x)], dtype=float)
    if len(a_values) == 0 or len(b_values) == 0:
        return None, None
    difference = float(a_values.mean() - b_values.mean())
    if len(a_values) < 2 or len(b_values) < 2:
        return difference, None
    p = float(stats.ttest_ind(a_values, b_values, equal_var=False).pvalue)
    return difference, (p if math.isfinite(p) else None)


def format_p(p: float | None) -> str:
    """A p-value the way a table shows it."""
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


# How a snapshot's phase reads after "at step N" in Figure 1's title.
PHASE_WORDS = {CidPhase.PRE_ROUND: "before the round", CidPhase.POST_ROUND: "after the round", CidPhase.FINAL: "final"}


def histogram_figure(a_scores: Sequence[float | None], b_scores: Sequence[float | None], probe: int | None = None,
                     step: int | None = None, bins: int = 30, phase: str | None = None) -> go.Figure:
    """Figure 1: overlaid histograms of the influence of group A (same label and confound as the
    probe) and group B (same label, other confound) on one probe; the title gives mean(A) -
    mean(B) (the probe's CID) and the Welch t-test p-value. Dashed lines mark the two means."""
    where = " ".join(part for part in (f"probe {probe}" if probe is not None else "",
                                       f"at step {step}" if step is not None else "",
                                       f"({PHASE_WORDS[phase]})" if phase in PHASE_WORDS else "") if part)
    a_values = [x for x in a_scores if _finite(x)]
    b_values = [x for x in b_scores if _finite(x)]
    if not a_values and not b_values:
        return empty_figure("No influence scores recorded for this probe and step.", f"Influence on {where}")
    difference, p = welch(a_values, b_values)
    low = min(a_values + b_values)
    high = max(a_values + b_values)
    size = (high - low) / bins if high > low else 1e-3
    xbins = {"start": low - size / 2, "end": high + size / 2, "size": size}
    figure, means = go.Figure(), []
    for name, values, color in ((f"A: same confound (n={len(a_values)})", a_values, A_COLOR),
                                (f"B: other confound (n={len(b_values)})", b_values, B_COLOR)):
        figure.add_trace(go.Histogram(x=values, name=name, marker_color=color, opacity=0.6, xbins=xbins,
                                      hovertemplate="influence %{x}<br>%{y} examples<extra></extra>"))
        if values:
            means.append(_vline(float(np.mean(values)), color, "dash", 2))
    summary = (f"mean A − mean B = {difference:+.3g}, Welch p = {format_p(p)}" if difference is not None
               else "one group is empty: no difference")
    figure.update_layout(shapes=means, barmode="overlay", title=f"Influence on {where}<br><sup>{summary}</sup>",
                         xaxis_title="influence score I(z_trn, z_prb)", yaxis_title="training examples",
                         margin={**MARGIN, "t": 70}, template=STYLE, height=380,
                         legend={"orientation": "h", "y": -0.2})
    return figure


def curves_figure(series: dict[str, dict], names: Sequence[str], title: str, yaxis_title: str,
                  xaxis_title: str = "label step", empty: str = "No points yet.", percent: bool = False) -> go.Figure:
    """The named series ({"steps", "values"}) of a run as lines; names without points are left out.
    percent: the values are shares, drawn in % on a 0-100 axis (as the tables show accuracy)."""
    drawn = [n for n in names if series.get(n) and series[n]["steps"]]
    if not drawn:
        return empty_figure(empty, title)
    figure = go.Figure()
    for i, name in enumerate(drawn):
        s = series[name]
        values = [100 * v if percent and _finite(v) else v for v in s["values"]]
        figure.add_trace(go.Scatter(x=s["steps"], y=values, mode=_mode(len(s["steps"])), name=name,
                                    line={"color": RUN_COLORS[i % len(RUN_COLORS)], "width": 1.5}))
    figure.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title, margin=MARGIN,
                         template=STYLE, height=320, legend={"orientation": "h", "y": -0.25})
    if percent:
        figure.update_yaxes(range=[0, 100], ticksuffix="%")
    return figure


def table2_figure(rows: Sequence[dict], title: str = "Test accuracy by method (Table 2)",
                  progress: dict | None = None) -> go.Figure:
    """Table-2 rows (the API's /experiments/{id}/table) as bars: mean test accuracy over seeds
    with the sample standard deviation as error bars, one group of bars per dataset, and the
    p-value against finetuning written on each bar."""
    shown = [r for r in rows if r.get("test_acc_mean") is not None]
    if not shown:
        return empty_figure(semantics.no_results(progress) if progress else "No finished jobs in this experiment yet.",
                            title)
    figure = go.Figure()
    methods = list(dict.fromkeys(_row_label(r) for r in shown))
    for i, method in enumerate(methods):
        mine = [r for r in shown if _row_label(r) == method]
        figure.add_trace(go.Bar(
            x=[r["dataset"] for r in mine], y=[r["test_acc_mean"] for r in mine], name=method,
            marker_color=RUN_COLORS[i % len(RUN_COLORS)],
            error_y={"type": "data", "array": [r.get("test_acc_std") or 0 for r in mine], "visible": True},
            text=["" if r["method"] == MethodName.FINETUNE else f"p={format_p(r.get('p_vs_finetune'))}" for r in mine],
            textposition="outside",
            hovertemplate="%{x}<br>" + method + "<br>acc %{y:.3f}<extra></extra>"))
    figure.update_layout(barmode="group", title=title, yaxis_title="test accuracy (mean over seeds)",
                         yaxis={"range": [0, 1.1]}, margin=MARGIN, template=STYLE, height=380,
                         legend={"orientation": "h", "y": -0.2})
    return figure


def _row_label(row: dict) -> str:
    params = row.get("params") or {}
    return row["method"] + (" " + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) if params else "")
