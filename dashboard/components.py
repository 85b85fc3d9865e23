"""Small building blocks the pages share: figure cards with downloads, tables, messages."""
from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from dashboard import semantics
from dashboard.spec_form import format_duration
from jobs.contracts.enums import TRAINED_STATUSES, JobStatus


def graph_config(filename: str) -> dict:
    """Plotly's toolbar: the camera button saves the figure as SVG (vector, sharp at any size);
    Plotly's own PNG export is one format change away if needed."""
    return {"displaylogo": False, "toImageButtonOptions": {"format": "svg", "filename": filename},
            "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def graph_card(graph_id: str, filename: str, csv_id: str | None = None, note: str | None = None,
               figure=None) -> html.Div:
    """A figure with its toolbar (image download) and a "CSV" button that downloads its full data."""
    parts: list = [dcc.Graph(id=graph_id, config=graph_config(filename), figure=figure or {})]
    if csv_id:
        parts.append(html.Div([html.Button("Download data (CSV)", id=csv_id, className="small"),
                               dcc.Download(id=f"{csv_id}-file")], className="card-actions"))
    if note:
        parts.append(html.P(note, className="note"))
    return html.Div(parts, className="card")


def error_box(message: str) -> html.Div:
    """An API error (or any failure) in words, where the user is looking."""
    return html.Div(message, className="error", role="alert")


def empty_state(message: str) -> html.Div:
    return html.Div(message, className="empty")


def records_table(columns: Sequence[tuple[str, str]], rows: Sequence[dict], table_id: str | None = None,
                  empty: str = "Nothing to show yet.") -> html.Div:
    """A plain HTML table of (columns [(key, header)], rows of display strings)."""
    if not rows:
        return empty_state(empty)
    head = html.Thead(html.Tr([html.Th(header) for _, header in columns]))
    body = html.Tbody([html.Tr([html.Td(row.get(key, "")) for key, _ in columns]) for row in rows])
    table = html.Table([head, body], className="table", **({"id": table_id} if table_id else {}))
    return html.Div(table, className="table-wrap")  # wide tables scroll instead of overflowing the card


def eta_words(progress: dict) -> str:
    """A running job's ETA (the API's progress): "ETA 4 min 13 s"; "ETA ≈ 4 min 13 s (guess)" while
    part of it rests on work the run has not timed yet; "ETA unknown" before anything is timed."""
    if progress.get("eta_s") is None:
        return "ETA unknown"
    eta = format_duration(progress["eta_s"])
    return f"ETA ≈ {eta} (guess)" if progress.get("eta_guessed") else f"ETA {eta}"


def progress_bar(progress: dict | None, status: str) -> html.Div:
    """A job's progress (the API's JobOut.progress): label steps done of total as a bar with the
    ETA, and below it the phase (what a running job is doing now, in words)."""
    progress = progress or {}
    step, total = progress.get("step"), progress.get("total")
    if status in TRAINED_STATUSES and total:
        step = total
    share = (step or 0) / total if total else 0.0
    label = f"{step or 0}/{total}" if total else "–"
    running = status == JobStatus.RUNNING
    if running and total:
        label += f" · {eta_words(progress)}"
    bar = html.Div([html.Div(className="bar-fill", style={"width": f"{100 * min(share, 1.0):.0f}%"}),
                    html.Span(label, className="bar-label")], className="bar", title=label)
    if not running:
        return bar
    phase = progress.get("phase") or "starting"
    return html.Div([bar, html.Div(phase, className="bar-phase", title=phase)], className="progress-cell")


def status_badge(status: str) -> html.Span:
    """The status as a badge; "collapsed" says what it means when hovered."""
    return html.Span(status, className=f"badge badge-{status}",
                     title=semantics.COLLAPSED if status == JobStatus.COLLAPSED else None)
