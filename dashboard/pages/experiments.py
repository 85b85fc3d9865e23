"""Experiments: every experiment (comparison, sweep, reproduction) with its progress (jobs done
of total, counts by status, ETA), refreshed every 2 s while any of its jobs is unfinished; and
"Reproduce the paper": the paper's protocol on one dataset as one experiment.

Numbers: GET /api/experiments (progress computed by the API), GET /api/experiments/scales,
GET /api/experiments/protocols (the methods offered), POST /api/experiments/reproduce(/preview). Sweeps are submitted on the Jobs page; Tables 2 and 3 of an
experiment are on the Compare page.
"""
from __future__ import annotations

import re

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard.client import ApiError, api, plain
from dashboard.components import empty_state, error_box
from dashboard.spec_form import format_duration, parse_seeds
from dashboard.tables import progress_summary

POLL_MS = 2000        # while some experiment has unfinished jobs
IDLE_POLL_MS = 10000  # otherwise: only to notice new experiments
DATASETS = ("textlen", "msgs")


def dataset_choices() -> list[dict]:
    """The built-in datasets, then every uploaded one ("upload:<id>": your own data, run as custom)."""
    try:
        uploads = api().datasets().uploaded
    except ApiError:
        uploads = []
    return ([{"label": f" {name}", "value": name} for name in DATASETS]
            + [{"label": f" your data: {u.name} (upload {u.id})", "value": f"upload:{u.id}"}
               for u in uploads])


def protocol_of(choice: str | None) -> str | None:
    """The protocol a dataset choice runs: an upload runs the custom one."""
    return "custom" if (choice or "").startswith("upload:") else choice


def protocol_body(choice: str) -> dict:
    """The request's dataset fields for a choice: an upload is {"dataset": "custom", "data": "upload:<id>"}."""
    return {"dataset": "custom", "data": choice} if choice.startswith("upload:") else {"dataset": choice}


def progress_parts(progress: dict | None) -> tuple[html.Div, html.Div]:
    """An experiment's progress as a bar of jobs done of total with the ETA, and its counts by status."""
    words = progress_summary(progress)
    total, done = (progress or {}).get("total", 0), (progress or {}).get("done", 0)
    label = words["done"] + (f" · {words['eta']}" if words["eta"] else "")
    bar = html.Div([html.Div(className="bar-fill", style={"width": f"{100 * done / total if total else 0:.0f}%"}),
                    html.Span(label, className="bar-label")], className="bar experiment-bar", title=label)
    return bar, html.Div(words["counts"], className="progress-counts")


def experiment_progress(progress: dict | None, element_id: str | None = None) -> html.Div:
    """Bar and counts side by side (the Compare page's line above Table 2)."""
    bar, counts = progress_parts(progress)
    return html.Div([bar, counts], className="summary experiment-progress", **({"id": element_id} if element_id else {}))


def unfinished(experiments: list[dict]) -> bool:
    return any(e["progress"]["done"] < e["progress"]["total"] for e in experiments)


def _scales() -> tuple[list[dict], str | None]:
    try:
        return plain(api().scales()), None
    except ApiError as error:
        return [], error.message


def _reproduce_card(scales: list[dict]) -> html.Div:
    options = [{"label": f" {s['name']} ({s['model']})", "value": s["name"]} for s in scales]
    return html.Div([
        html.H3("Reproduce the paper"),
        html.P("Every Table-2 method of the dataset (TextLen also the no-confound control) at the scale's seeds "
               "with the paper's presets, collapsed trials retried; with access rates, influence and embedding "
               "tuning again at each rate (Table 3). An uploaded dataset (Datasets page) runs the same protocol "
               "with TextLen's paper settings.", className="note"),
        html.Div([
            html.Div([html.Label("dataset"), dcc.RadioItems(dataset_choices(), "textlen", id="reproduce-dataset",
                                                            inline=True)], className="field"),
            html.Div([html.Label("scale"), dcc.RadioItems(options, "cpu" if any(s["name"] == "cpu" for s in scales)
                                                          else None, id="reproduce-scale", inline=True)], className="field"),
            html.Div([html.Label("methods"), dcc.Checklist(id="reproduce-methods", inline=True)], className="field"),
            html.Div([html.Label("seeds (empty: the scale's)"),
                      dcc.Input(id="reproduce-seeds", type="text", debounce=True, className="input", placeholder="e.g. 2021, 2022")],
                     className="field"),
            html.Div([html.Label("confound access rates % (Table 3)"),
                      dcc.Input(id="reproduce-rates", type="text", debounce=True, className="input", placeholder="e.g. 5, 10, 25")],
                     className="field"),
            html.Div([html.Label("name (empty: from the settings)"),
                      dcc.Input(id="reproduce-name", type="text", debounce=True, className="input")], className="field"),
            html.Div([html.Label("finished jobs"),
                      dcc.Checklist([{"label": " reuse: copy jobs identical to ones that already succeeded",
                                      "value": "reuse"}], [], id="reproduce-reuse")], className="field"),
        ], className="form-grid"),
        html.Div(id="reproduce-scale-note", className="note"),
        html.Button("Reproduce", id="reproduce-submit", className="primary"),
        html.Div(id="reproduce-result", className="form-result"),
    ], className="card")


def layout(**_query):
    scales, problem = _scales()
    return html.Div([
        html.H2("Experiments"),
        error_box(problem) if problem else None,
        html.Div([
            html.H3("All experiments"),
            html.P("Progress: jobs done (succeeded, collapsed, failed or cancelled) of total; the ETA is the mean "
                   "time of its finished jobs × jobs left ÷ workers on it. Sweeps are submitted on the Jobs page.",
                   className="note"),
            html.Div(id="experiments-list"),
        ], className="card"),
        _reproduce_card(scales),
        dcc.Store(id="experiments-changed", data=0),
        dcc.Interval(id="experiments-poll", interval=POLL_MS),
    ])


# Order 1 as Compare: the nav shows Jobs, Compare, Experiments, Datasets (ties go by module name).
dash.register_page(__name__, path="/experiments", name="Experiments", title="deconfound · experiments", order=1,
                   layout=layout)

HEADERS = ("experiment", "kind", "name", "created", "progress", "jobs by status", "")


def _row(experiment: dict) -> html.Tr:
    eid = experiment["id"]
    return html.Tr([
        html.Td(f"#{eid}"), html.Td(experiment["kind"]), html.Td(experiment["name"]),
        html.Td(experiment["created_at"][:16].replace("T", " ")),
        *[html.Td(part, className=f"col-{key}")
          for key, part in zip(("progress", "counts"), progress_parts(experiment["progress"]), strict=True)],
        html.Td(dcc.Link("Tables 2 and 3 →", href=f"/compare?experiment={eid}")),
    ], id=f"experiment-row-{eid}", className="experiment-row")


@callback(Output("experiments-list", "children"), Output("experiments-poll", "interval"),
          Input("experiments-poll", "n_intervals"), Input("experiments-changed", "data"))
def show_experiments(_n, _changed):
    """Every experiment, newest first, with its progress; polled fast only while some job is unfinished."""
    try:
        experiments = plain(api().experiments())
    except ApiError as error:
        return error_box(error.message), POLL_MS
    if not experiments:
        return (empty_state("No experiments yet: choose several methods or seeds, or a sweep, in the Jobs page's "
                            "form, or reproduce the paper below."), IDLE_POLL_MS)
    head = html.Thead(html.Tr([html.Th(h) for h in HEADERS]))
    table = html.Table([head, html.Tbody([_row(e) for e in experiments])], className="table", id="experiments-table")
    return html.Div(table, className="table-wrap"), POLL_MS if unfinished(experiments) else IDLE_POLL_MS


def parse_rates(text: str | None) -> tuple[list[float], str | None]:
    """"5, 10 25" -> [5.0, 10.0, 25.0] (percent; the API checks the range)."""
    parts = [p for p in re.split(r"[,\s]+", text or "") if p]
    try:
        return [float(p) for p in parts], None
    except ValueError:
        return [], "access rates are numbers (percent) separated by commas"


@callback(Output("reproduce-methods", "options"), Output("reproduce-methods", "value"),
          Input("reproduce-dataset", "value"))
def offer_methods(dataset):
    """The dataset's Table-2 methods (GET /api/experiments/protocols), all ticked."""
    try:
        found = next((p for p in api().protocols() if p.dataset == protocol_of(dataset)), None)
    except ApiError:
        found = None
    methods = found.methods if found else []
    return [{"label": f" {m}", "value": m} for m in methods], methods


def _methods_field(methods: list[str] | None, offered: list[dict] | None) -> tuple[dict, str | None]:
    """The request's "methods": left out when all are ticked (the default name stays short)."""
    if methods is None:
        return {}, None
    if not methods:
        return {}, "tick at least one method"
    return ({} if {o["value"] for o in offered or []} <= set(methods) else {"methods": methods}), None


@callback(Output("reproduce-scale-note", "children"), Input("reproduce-scale", "value"),
          Input("reproduce-dataset", "value"), Input("reproduce-seeds", "value"), Input("reproduce-rates", "value"),
          Input("reproduce-methods", "value"), Input("reproduce-reuse", "value"), State("reproduce-methods", "options"))
def describe_scale(scale, dataset, seeds_text, rates_text, methods, reuse, offered):
    """The scale in words, then what Reproduce would queue (the API's preview): jobs and time."""
    scales, problem = _scales()
    found = next((s for s in scales if s["name"] == scale), None)
    if found is None:
        return problem or ""
    minutes = {k.split("/", 1)[1]: v for k, v in found["minutes"].items()
               if k.startswith(f"{protocol_of(dataset)}/")}
    timing = ("; about " + ", ".join(f"{m} {v:g} min" for m, v in minutes.items()) + " per job") if minutes else ""
    seeds = ", ".join(str(seed) for seed in found["seeds"])
    about = f"{found['name']}: {found['description']}; seeds {seeds}{timing}."
    line = _preview_line(dataset, scale, seeds_text, rates_text, *_methods_field(methods, offered),
                         reuse="reuse" in (reuse or []))
    return [html.Div(about), html.Div(line, id="reproduce-job-count", className="job-count")]


def _preview_line(dataset: str, scale: str, seeds_text: str | None, rates_text: str | None,
                  methods_field: dict, methods_error: str | None, reuse: bool = False) -> str:
    seeds, seeds_error = parse_seeds(seeds_text) if (seeds_text or "").strip() else (None, None)
    rates, rates_error = parse_rates(rates_text)
    if seeds_error or rates_error or methods_error:
        return "; ".join(e for e in (seeds_error, rates_error, methods_error) if e)
    try:
        preview = api().preview_reproduction({**protocol_body(dataset), "scale": scale, "access_rates": rates,
                                              "reuse": reuse, **methods_field, **({"seeds": seeds} if seeds else {})})
    except ApiError as error:
        return error.message
    methods = ", ".join(f"{m} {n}" for m, n in preview.jobs_by_method.items())
    time_line = (f"; about {format_duration(preview.estimated_s)} on one worker"
                 if preview.estimated_s is not None else "")
    copies = f"; {preview.reused} copied from finished jobs" if preview.reused else ""
    return f"{preview.jobs} jobs ({methods}){copies}{time_line}."


@callback(Output("reproduce-result", "children"), Output("experiments-changed", "data"),
          Input("reproduce-submit", "n_clicks"), State("reproduce-dataset", "value"),
          State("reproduce-scale", "value"), State("reproduce-seeds", "value"), State("reproduce-rates", "value"),
          State("reproduce-name", "value"), State("reproduce-methods", "value"), State("reproduce-methods", "options"),
          State("reproduce-reuse", "value"), State("experiments-changed", "data"), prevent_initial_call=True)
def reproduce(_clicks, dataset, scale, seeds_text, rates_text, name, methods, offered, reuse, changed):
    """Queue the protocol; the API's complaint (e.g. a rate outside (0, 100]) is shown in words."""
    seeds, seeds_error = parse_seeds(seeds_text) if (seeds_text or "").strip() else (None, None)
    rates, rates_error = parse_rates(rates_text)
    methods_field, methods_error = _methods_field(methods, offered)
    if seeds_error or rates_error or methods_error:
        problems = "; ".join(e for e in (seeds_error, rates_error, methods_error) if e)
        return error_box("Not submitted: " + problems), no_update
    body = {**protocol_body(dataset), "scale": scale, "access_rates": rates, "reuse": "reuse" in (reuse or []),
            **methods_field,
            **({"seeds": seeds} if seeds else {}), **({"name": name.strip()} if name and name.strip() else {})}
    try:
        experiment = api().reproduce(body)
    except ApiError as error:
        return error_box("Not submitted: " + error.message), no_update
    return html.Div(["Queued ", dcc.Link(f"experiment #{experiment.id}",
                                         href=f"/compare?experiment={experiment.id}", id="reproduce-link"),
                     f" ({experiment.name}) with {len(experiment.job_ids)} jobs"
                     + (f", {copied} of them copies of finished jobs." if (copied := experiment.progress.done)
                        else ".")],
                    className="ok"), (changed or 0) + 1
