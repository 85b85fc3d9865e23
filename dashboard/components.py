"""Small building blocks the pages share: figure cards with downloads, tables, messages."""
from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from dashboard import semantics
from dashboard.spec_form import format_duration


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


def progress_bar(step: int | None, total: int | None, eta_s: float | None, status: str) -> html.Div:
    """Step of total as a bar, with the ETA while running."""
    if status in ("succeeded", "collapsed") and total:
        step = total
    share = (step or 0) / total if total else 0.0
    label = f"{step or 0}/{total}" if total else "–"
    if status == "running" and eta_s is not None:
        label += f" · ETA {format_duration(eta_s)}"
    return html.Div([html.Div(className="bar-fill", style={"width": f"{100 * min(share, 1.0):.0f}%"}),
                     html.Span(label, className="bar-label")], className="bar", title=label)


def status_badge(status: str) -> html.Span:
    """The status as a badge; "collapsed" says what it means when hovered."""
    return html.Span(status, className=f"badge badge-{status}",
                     title=semantics.COLLAPSED if status == "collapsed" else None)
