"""Compare: several runs' CID curves overlaid (Figure 3) with their behaviour, and the Table-2
view of an experiment (methods x datasets over seeds, a sweep's row selected on dev marked) with
its progress, and Table 3 (accuracy by confound access rate) when it has such runs.

Numbers: GET /api/jobs (choices), /api/jobs/{id}/cid and /results per chosen run,
GET /api/experiments, /api/experiments/{id} (progress), /api/experiments/{id}/table (Tables 2
and 3) and /api/experiments/{id}/cid (each method's mean CID curve, Figure 3), computed by the
API and fetched again only when another of its jobs has finished.
"""
from __future__ import annotations

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import export, figures, semantics
from dashboard.client import ApiError, api, plain, plain_metrics
from dashboard.components import error_box, graph_card, records_table
from dashboard.live import FINISHED
from dashboard.pages.experiments import experiment_progress
from dashboard.series import DISPLAY_POINTS
from dashboard.tables import access_rates, gap, num, pct, table2_rows, table3_rows
from jobs.contracts.enums import JobStatus

POLL_MS = 2000
CHOICES = 200



def _ids(text: str | None) -> list[int]:
    return [int(p) for p in (text or "").split(",") if p.strip().isdigit()]


def layout(jobs: str | None = None, experiment: str | None = None, **_query):
    try:
        listing = plain(api().jobs(limit=CHOICES).items)
        experiments = plain(api().experiments())
        problem = None
    except ApiError as error:
        listing, experiments, problem = [], [], error.message
    # Runs named in the URL (?jobs=1,2,3, e.g. a NeuronTune chain) are chosen even if older than the listing.
    listed = {j["id"] for j in listing}
    for job_id in _ids(jobs):
        if job_id not in listed and not problem:
            try:
                listing.append(plain(api().job(job_id)))
            except ApiError:
                pass  # an unknown id shows as an error beside the plot
    job_options = [{"label": run_option(j),
                    "value": j["id"]} for j in listing]
    experiment_options = [{"label": f"#{e['id']} {e['kind']} · {e['name']} ({e['progress']['total']} jobs)",
                           "value": e["id"]} for e in experiments]
    chosen_experiment = int(experiment) if experiment and experiment.isdigit() else None
    return html.Div([
        html.H2("Compare"),
        error_box(problem) if problem else None,
        html.Div([
            html.H3("CID of several runs"),
            html.Div([dcc.Dropdown(job_options, _ids(jobs), id="compare-jobs", multi=True,
                                   placeholder="choose runs to overlay", className="filter wide-filter")],
                     className="filters"),
            html.Ul([html.Li(semantics.CID), html.Li(semantics.BEHAVIOUR)], className="semantics"),
            graph_card("compare-cid-graph", "cid-comparison", "compare-cid-csv"),
            html.Div(id="compare-behaviour"),
        ], className="card"),
        html.Div([
            html.H3("Experiment (Table 2)"),
            html.Div([dcc.Dropdown(experiment_options, chosen_experiment, id="compare-experiment",
                                   placeholder="choose an experiment", className="filter wide-filter"),
                      html.Button("Overlay its runs above", id="compare-overlay", className="small")],
                     className="filters"),
            html.Div(id="compare-experiment-progress"),
            html.P(semantics.TABLE2, className="note"),
            html.P(semantics.SELECTION, className="note"),
            dcc.Checklist([{"label": " selected rows only (each method's grid point chosen on dev)",
                            "value": "selected"}], [], id="compare-selected-only"),
            html.Div(id="compare-table"),
            html.Div([html.Button("Download Table 2 (CSV)", id="compare-table-csv", className="small"),
                      dcc.Download(id="compare-table-csv-file")], className="card-actions"),
            graph_card("compare-table-graph", "table2"),
            graph_card("compare-experiment-cid-graph", "experiment-cid", note=semantics.EXPERIMENT_CID),
            html.Div([
                html.H3("Table 3: accuracy by confound access rate"),
                html.P(semantics.TABLE3, className="note"),
                html.Div(id="compare-table3"),
                html.Div([html.Button("Download Table 3 (CSV)", id="compare-table3-csv", className="small"),
                          dcc.Download(id="compare-table3-csv-file")], className="card-actions"),
            ], id="compare-table3-card", style={"display": "none"}),
        ], className="card"),
        dcc.Store(id="compare-cache", data={}),
        dcc.Store(id="compare-experiment-data", data=None),
        dcc.Interval(id="compare-poll", interval=POLL_MS),
    ])



dash.register_page(__name__, path="/compare", name="Compare", title="deconfound · compare", order=1, layout=layout)

def _label(job: dict) -> str:
    """A run as the figure's legend and the table name it: the model too (a minilm and a tiny run
    of one method and seed are different runs)."""
    model = f" · {job['model']}" if job.get("model") else ""
    return f"#{job['id']} {job['method']}{model} (seed {job['seed']})"


def run_option(job: dict) -> str:
    """A run in the run picker."""
    return (f"#{job['id']} {job['method']} · {job.get('model', '?')} · {job['dataset']} · seed {job['seed']} "
            f"({job['status']})")


@callback(Output("compare-cache", "data"), Input("compare-jobs", "value"), Input("compare-poll", "n_intervals"),
          State("compare-cache", "data"))
def fetch_runs(job_ids, _n, cache):
    """CID points and final metrics of the chosen runs; finished runs are fetched once."""
    cache = {k: v for k, v in (cache or {}).items() if int(k) in (job_ids or [])}
    changed = False
    for job_id in job_ids or []:
        held = cache.get(str(job_id))
        if held and held["job"]["status"] in FINISHED and held.get("metrics") is not None:
            continue
        try:
            job = plain(api().job(job_id))
            points = plain(api().cid_display(job_id, max_points=DISPLAY_POINTS).points)
            metrics = plain_metrics(api().results(job_id)) if job["status"] in FINISHED else None
        except ApiError as error:
            cache[str(job_id)] = {"job": {"id": job_id, "status": "unknown", "method": "?", "seed": "?"},
                                  "points": [], "metrics": None, "error": error.message}
            changed = True
            continue
        fresh = {"job": job, "points": points, "metrics": metrics}
        if fresh != held:
            cache[str(job_id)], changed = fresh, True
    if not changed and set(cache) == {str(j) for j in job_ids or []} and ctx.triggered_id == "compare-poll":
        return no_update
    return cache


BEHAVIOUR_COLUMNS = [("run", "run"), ("status", "status"), ("dataset", "dataset"),
                     ("cid", "CID (final; latest while running)"),
                     ("acc", "test acc %"), ("worst", "worst group %"), ("gap", "agree − disagree"),
                     ("flip", "flip rate %")]


@callback(Output("compare-cid-graph", "figure"), Output("compare-behaviour", "children"),
          Input("compare-cache", "data"), State("compare-jobs", "value"))
def draw_runs(cache, job_ids):
    if not job_ids:
        return (figures.empty_figure("Choose runs above (e.g. finetune, influence tuning and the no-confound "
                                     "control of one seed) to overlay their CID curves."),
                html.Div("No runs chosen.", className="empty"))
    held = [cache[str(j)] for j in job_ids if str(j) in cache]
    figure = figures.compare_cid_figure([{"label": _label(h["job"]), "points": h["points"]} for h in held])
    rows, problems = [], []
    for h in held:
        if h.get("error"):
            problems.append(error_box(f"Run #{h['job']['id']}: {h['error']}"))
            continue
        test = (h.get("metrics") or {}).get("test") or {}
        g = gap(test) if test else None
        cid = [p for p in h["points"] if p["value"] is not None]
        rows.append({"run": _label(h["job"]), "status": h["job"]["status"], "dataset": h["job"].get("dataset", ""),
                     "cid": _cid_shown(h, cid),
                     "acc": pct(test.get("acc")), "worst": pct(test.get("worst_group_acc")),
                     "gap": "" if g is None else f"{100 * g:+.1f}", "flip": pct(test.get("flip_rate"))})
    return figure, html.Div([*problems, records_table(BEHAVIOUR_COLUMNS, rows, "compare-behaviour-table")])


def _cid_shown(held: dict, cid: list[dict]) -> str:
    """A finished run's final CID; an unfinished run's latest value, marked so."""
    if held["job"]["status"] in FINISHED:
        return num((held.get("metrics") or {}).get("cid"))
    return f"{num(cid[-1]['value'])} (latest, step {cid[-1]['step']})" if cid else ""


@callback(Output("compare-cid-csv-file", "data"), Input("compare-cid-csv", "n_clicks"), State("compare-jobs", "value"),
          prevent_initial_call=True)
def cid_csv(_clicks, job_ids):
    """Every CID point of the chosen runs, with per-probe values."""
    if not job_ids:
        return no_update
    runs = [{"job_id": j, "points": plain(api().cid(j).points)} for j in job_ids]
    return dcc.send_string(export.cid_csv(runs), "cid-comparison.csv")


@callback(Output("compare-experiment-data", "data"), Input("compare-experiment", "value"),
          Input("compare-poll", "n_intervals"), State("compare-experiment-data", "data"))
def fetch_experiment(experiment_id, _n, held):
    """The chosen experiment's progress every poll while it has unfinished jobs, and its table
    when another job has finished (the table changes only then)."""
    if experiment_id is None:
        return None if held is not None else no_update
    same = held is not None and held.get("id") == experiment_id and not held.get("error")
    if same and ctx.triggered_id == "compare-poll" and held["experiment"]["progress"]["done"] \
            >= held["experiment"]["progress"]["total"]:
        return no_update  # finished: nothing will change
    try:
        experiment = plain(api().experiment(experiment_id))
        progress = experiment["progress"]
        unchanged = same and held["experiment"]["progress"]["done"] == progress["done"]
        table = held["table"] if unchanged else plain(api().experiment_table(experiment_id))
        cid = held["cid"] if unchanged else plain(api().experiment_cid(experiment_id).rows)
    except ApiError as error:
        return {"id": experiment_id, "error": error.message}
    fresh = {"id": experiment_id, "experiment": experiment, "table": table, "cid": cid}
    return no_update if fresh == held else fresh


@callback(Output("compare-experiment-progress", "children"), Output("compare-table", "children"),
          Output("compare-table-graph", "figure"), Output("compare-table3", "children"),
          Output("compare-table3-card", "style"), Output("compare-experiment-cid-graph", "figure"),
          Input("compare-experiment-data", "data"), Input("compare-selected-only", "value"))
def show_table(held, selected_only):
    """Progress, Table 2 (all rows or the selected ones), with access-rate runs Table 3, and the
    methods' mean CID curves (Figure 3)."""
    hidden = {"display": "none"}
    if held is None:
        return ("", html.Div("Choose an experiment: a grid of methods x seeds (x datasets) or a sweep submitted from "
                             "the Jobs page, a reproduction from the Experiments page, or POST /api/experiments.",
                             className="empty"), figures.empty_figure("No experiment chosen."), "", hidden,
                figures.empty_figure("No experiment chosen."))
    if held.get("error"):
        return ("", error_box(held["error"]), figures.empty_figure(held["error"]), "", hidden,
                figures.empty_figure(held["error"]))
    rows = held["table"]["rows"]
    only = "selected" in (selected_only or [])
    columns, records = table2_rows(rows, selected_only=only)
    shown = [r for r in rows if r.get("selected")] if only else rows
    table3 = ""
    if access_rates(rows):
        columns3, records3 = table3_rows(rows)
        table3 = records_table(columns3, records3, "table3", empty="No run at reduced access has finished yet.")
    return (experiment_progress(held["experiment"]["progress"], "experiment-progress"),
            html.Div([*_no_results_note(held["experiment"]["progress"]),
                      records_table(columns, records, "table2", empty=semantics.no_results(held["experiment"]["progress"]))]),
            figures.table2_figure(shown, progress=held["experiment"]["progress"]), table3, None if table3 else hidden,
            figures.experiment_cid_figure(held.get("cid") or []))


def _no_results_note(progress: dict) -> list:
    """Above Table 2 when every job has ended and none succeeded (e.g. all collapsed): why its cells are empty."""
    done_without = progress.get("total") and progress.get("done") == progress["total"] and not progress.get(JobStatus.SUCCEEDED)
    return [html.Div(semantics.no_results(progress), className="note", id="compare-no-results")] if done_without else []


@callback(Output("compare-table-csv-file", "data"), Input("compare-table-csv", "n_clicks"),
          State("compare-experiment", "value"), prevent_initial_call=True)
def table_csv(_clicks, experiment_id):
    if experiment_id is None:
        return no_update
    rows = plain(api().experiment_table(experiment_id).rows)
    return dcc.send_string(export.table2_csv(rows), f"experiment{experiment_id}-table2.csv")


@callback(Output("compare-table3-csv-file", "data"), Input("compare-table3-csv", "n_clicks"),
          State("compare-experiment", "value"), prevent_initial_call=True)
def table3_csv(_clicks, experiment_id):
    if experiment_id is None:
        return no_update
    rows = plain(api().experiment_table(experiment_id).rows)
    return dcc.send_string(export.table3_csv(rows), f"experiment{experiment_id}-table3.csv")


@callback(Output("compare-jobs", "value"), Output("compare-jobs", "options"), Input("compare-overlay", "n_clicks"),
          State("compare-experiment", "value"), State("compare-jobs", "options"), prevent_initial_call=True)
def overlay_experiment(_clicks, experiment_id, options):
    """Put the experiment's runs into the overlay (the first eight)."""
    if experiment_id is None:
        return no_update, no_update
    try:
        job_ids = plain(api().jobs(experiment=experiment_id, limit=8).items)
    except ApiError:
        return no_update, no_update
    known = {o["value"] for o in options or []}
    extra = [{"label": run_option(j),
              "value": j["id"]} for j in job_ids if j["id"] not in known]
    return [j["id"] for j in job_ids], [*(options or []), *extra]
