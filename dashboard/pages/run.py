"""Run: one job, live. CID over training (Figure 3) beside the model's behaviour, training curves,
the Figure 1 view of one probe at one step, and the probe explorer.

Numbers: GET /api/jobs/{id} (status, progress), /metrics (curves), /cid (CID points),
/results (behaviour; its `architecture`: the model's family and pooling, also the "model"
diagnostic recorded when the model loads), /influence (Figure 1's A and B scores), /influence/examples (explorer).
While the job runs the page polls every POLL_MS and asks only for points it has not got
(dashboard.live).
"""
from __future__ import annotations

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import export, figures, live, neurontune_view, semantics
from dashboard.client import ApiError, api, plain
from dashboard.components import error_box, graph_card, progress_bar, records_table, status_badge
from dashboard.spec_form import format_duration
from dashboard.tables import behaviour_rows, group_rows, num
from jobs.contracts.enums import CidPhase, JobStatus
from jobs.contracts.results import ArchitectureUsed

POLL_MS = 1500
LOSS_NAMES = ("loss/train", "loss/adversary")
ACC_NAMES = ("acc/train", "acc/dev", "acc/test", "acc/adversary")


def layout(job_id: str | None = None, **_query):
    if not job_id or not job_id.isdigit():
        return html.Div([html.H2("Run"), html.Div(["No run chosen: open one from the ",
                                                   dcc.Link("Jobs", href="/"), " page."], className="empty")])
    job_id = int(job_id)
    try:
        answer = api().job(job_id)
        # The first paint carries the data: no round trip, no empty plots drawn first.
        held, _ = live.refresh(api(), answer, None)
    except ApiError as error:
        return html.Div([html.H2(f"Run #{job_id}"), error_box(error.message)])
    job = plain(answer)
    held["architecture"] = _loaded_architecture(job_id)
    held["engines"] = _engine_paths(job_id) if job["status"] != JobStatus.QUEUED else None
    held["engines_final"] = job["status"] in live.FINISHED
    score = (job["spec"].get("diagnostics") or {}).get("score", "cosine")
    cid, loss, acc, j, j_style, behaviour = draw(held)
    finished = job["status"] in live.FINISHED
    return html.Div([
        html.H2([f"Run #{job_id} ", html.Span(
            f"{job['method']} on {job['dataset']}, {job['model']}, seed {job['seed']}", className="subtitle")]),
        html.Div(_summary(job, held), id="run-summary", className="summary"),
        html.Div([html.Button("Cancel job", id="run-cancel", className="small",
                              style={"display": "none"} if finished else None),
                  dcc.Link("compare with other runs", href=f"/compare?jobs={job_id}", className="small-link"),
                  html.Span(id="run-action")], className="actions"),
        html.Ul([html.Li(semantics.influence_line(score)), html.Li(semantics.CID), html.Li(semantics.ROUNDS)],
                className="semantics"),
        html.Div([
            html.Div(graph_card("run-cid-graph", f"job{job_id}-cid", "run-cid-csv", figure=cid), className="wide"),
            html.Div([html.H4("Behaviour"), html.Div(behaviour, id="run-behaviour"),
                      html.P(semantics.BEHAVIOUR, className="note")], className="card narrow"),
        ], className="row"),
        html.Div([
            html.Div(graph_card("run-loss-graph", f"job{job_id}-loss", "run-metrics-csv", figure=loss),
                     className="half"),
            html.Div(graph_card("run-acc-graph", f"job{job_id}-accuracy", figure=acc), className="half"),
        ], className="row"),
        html.Div(graph_card("run-j-graph", f"job{job_id}-influence-loss", figure=j), id="run-j-box", style=j_style),
        neurontune_view.section(job),  # None unless the job is a neurontune one
        html.Div([
            html.H3("Influence on one probe (Figure 1)"),
            html.P([semantics.WELCH, " A: training examples with the probe's label and confound; "
                    "B: its label and the other confound."], className="note"),
            html.Div([html.Label("probe"), dcc.Dropdown(id="run-probe", clearable=False, className="filter"),
                      html.Label("top k"), dcc.Input(id="run-k", type="number", value=5, min=1, max=50,
                                                      debounce=True, className="input short")], className="filters"),
            # The slider's value indexes the probe's snapshots (run-steps): a round's step has two,
            # before and after the round.
            html.Div([html.Label("step"), dcc.Slider(id="run-step", min=0, max=0, step=1, value=None, marks={},
                                                     allow_direct_input=False)], className="slider"),
            graph_card("run-hist-graph", f"job{job_id}-figure1", "run-hist-csv",
                       figure=figures.empty_figure("No influence lists yet: they are recorded with each CID point "
                                                   "(diagnostics.histogram_probes probes).")),
            html.H4("Probe explorer"),
            html.Div(id="run-explorer"),
        ], className="card"),
        dcc.Store(id="run-job-id", data=job_id),
        dcc.Store(id="run-data", data=held),
        dcc.Store(id="run-steps", data=[]),
        dcc.Store(id="run-cid-count", data=len(held["cid"])),
        # Polls until the job has finished and its last points are in (see poll).
        dcc.Interval(id="run-poll", interval=POLL_MS, disabled=finished and held["results"] is not None),
    ])



dash.register_page(__name__, path_template="/run/<job_id>", path="/run/none", name="Run", title="deconfound · run",
                   nav=False, layout=layout)

def _loaded_architecture(job_id: int) -> dict | None:
    """The "model" diagnostic the job recorded when its model loaded (None before, or for older jobs)."""
    try:
        return api().diagnostic(job_id, "model").payload
    except ApiError:
        return None


# The influence engine's path per use, recorded by the job (jobs/methods/engine_path.py).
ENGINE_DIAGNOSTICS = {"CID": "influence.engine.cid", "update": "influence.engine.update"}


def _engine_paths(job_id: int) -> dict:
    """{use: {"path", "reason"}} for the uses the job has recorded so far."""
    found = {}
    for use, name in ENGINE_DIAGNOSTICS.items():
        try:
            found[use] = api().diagnostic(job_id, name).payload
        except ApiError:
            pass
    return found


def engine_line(paths: dict | None) -> str | None:
    """'influence engine: CID fast, update one example per forward (why)'; the reason is given
    wherever the engine did not take its batched path."""
    if not paths:
        return None
    named = {"fast": "fast", "fast-per-example": "fast, one example per forward", "loop": "per-example loop",
             "reference": "reference loop", "embedding": "pooled outputs"}
    parts = [f"{use} {named.get(p['path'], p['path'])}" + ("" if p["path"] in ("fast", "embedding") else
                                                            f" ({p['reason']})") for use, p in paths.items()]
    return "influence engine: " + ", ".join(parts)


def architecture_line(architecture: dict | None) -> str | None:
    """'model: Llama decoder (llama), pooling: the last real token, 2 blocks' from the recorded payload."""
    if not architecture:
        return None
    try:
        return f"model: {ArchitectureUsed.model_validate(architecture).summary()}"
    except ValueError:
        return None


def _summary(job: dict, held: dict) -> list:
    progress = job.get("progress") or {}
    cid = [p for p in held["cid"] if p["value"] is not None]
    parts = [status_badge(job["status"]), progress_bar(progress, job["status"])]
    facts = []
    if cid:
        facts.append(f"latest CID {cid[-1]['value']:+.4f} at step {cid[-1]['step']} ({cid[-1]['phase']})")
    dev = held["series"].get("acc/dev")
    if dev and dev["steps"]:
        facts.append(f"dev accuracy {100 * dev['values'][-1]:.1f}% at step {dev['steps'][-1]}")
    if job.get("wall_s"):
        facts.append(f"took {format_duration(job['wall_s'])}")
    if job.get("attempt", 0) > 1:
        facts.append(f"attempt {job['attempt']} (points of earlier attempts are gone)")
    model = architecture_line((held.get("results") or {}).get("architecture") or held.get("architecture"))
    if model:
        facts.append(model)
    engines = held.get("engines")
    if engine_line(engines):
        facts.append(engine_line(engines))
    parts.append(html.Span(" · ".join(facts), className="facts", id="run-facts"))
    if any(p["path"] == "loop" for p in (engines or {}).values()):
        parts.append(html.Div("The fast influence engine could not serve this model, so influence was computed "
                              "with the slow per-example loop (same numbers). The reason is in the log.",
                              className="note", id="run-engine-warning"))
    if job.get("error"):
        parts.append(error_box(f"The job failed: {job['error'].strip().splitlines()[-1]}"))
    if job["status"] == JobStatus.COLLAPSED:
        parts.append(html.Div(semantics.COLLAPSED, className="note", id="run-collapsed-note"))
    return parts


FIGURES = [Output("run-cid-graph", "figure"), Output("run-loss-graph", "figure"), Output("run-acc-graph", "figure"),
           Output("run-j-graph", "figure"), Output("run-j-box", "style"), Output("run-behaviour", "children")]


@callback(Output("run-data", "data"), Output("run-summary", "children"), Output("run-poll", "disabled"),
          Output("run-cid-count", "data"), Output("run-cancel", "style"), *FIGURES,
          Input("run-poll", "n_intervals"), State("run-job-id", "data"), State("run-data", "data"),
          prevent_initial_call=True)
def poll(_n, job_id, held):
    """Fetch the job and its new points, redraw what changed; stop polling once it has
    finished and all is in. (Figures are drawn here rather than from the store, to save the
    browser a round trip with the whole store.)"""
    try:
        answer = api().job(job_id)
        fresh, changed = live.refresh(api(), answer, held)
    except ApiError as error:
        return no_update, error_box(error.message), *(no_update,) * (3 + len(FIGURES))
    job = plain(answer)
    finished = job["status"] in live.FINISHED
    # The model's family and pooling: asked for until the job has recorded it (when its model loads).
    architecture = (held or {}).get("architecture")
    if architecture is None and job["status"] not in (JobStatus.QUEUED, *live.FINISHED):
        architecture = _loaded_architecture(job_id)
    if architecture != fresh.get("architecture"):
        fresh, changed = {**fresh, "architecture": architecture}, True
    # Which way influence was computed: asked for while some use has not reported yet, and once
    # more when the job ends (a path that changed mid-run shows then); not on every poll.
    engines, final = (held or {}).get("engines"), (held or {}).get("engines_final", False)
    missing = len(engines or {}) < len(ENGINE_DIAGNOSTICS)
    if job["status"] != JobStatus.QUEUED and not final and (missing or finished):
        engines, final = _engine_paths(job_id), finished
    changed = changed or engines != (held or {}).get("engines")
    fresh = {**fresh, "engines": engines, "engines_final": final}
    # One more poll after the job finished, for points flushed with its end.
    all_in = finished and (held or {}).get("results") is not None
    count = len(fresh["cid"])
    return ((fresh if changed else no_update), _summary(job, fresh), all_in,
            count if count != len((held or {}).get("cid", [])) else no_update,
            {"display": "none"} if finished else None,
            *(draw(fresh) if changed else (no_update,) * len(FIGURES)))


def draw(held: dict) -> tuple:
    """The run's figures (CID, loss, accuracy, influence loss) and behaviour from the points held."""
    series = held["series"]
    cid = figures.cid_figure(held["cid"])
    loss = figures.curves_figure(series, LOSS_NAMES, "Training loss", "loss")
    acc = figures.curves_figure(series, ACC_NAMES, "Accuracy per split", "accuracy %", percent=True,
                                empty="No accuracy yet: measured every train.eval_every steps.")
    if not series.get("loss/influence"):
        return cid, loss, acc, {}, {"display": "none"}, _behaviour(held)  # hidden: nothing to draw
    j = figures.curves_figure(series, ("loss/influence",), "Influence loss J per update", "J",
                              xaxis_title="influence-optimiser update")
    return cid, loss, acc, j, None, _behaviour(held)


def _behaviour(held: dict):
    results = held.get("results")
    cid = [p for p in held["cid"] if p["value"] is not None]
    if not results:
        latest = f"Latest CID {cid[-1]['value']:+.4f}. " if cid else ""
        return html.Div(latest + "Final accuracy, flip rate and the agree/disagree gap appear when the job finishes.",
                        className="empty")
    columns, rows = behaviour_rows(results)
    group_columns, groups = group_rows(results)
    return html.Div([
        html.P(f"Final CID {num(results.get('cid'))}" if results.get("cid") is not None else "No final CID."),
        records_table(columns, rows, "run-behaviour-table", empty="No final metrics (the job did not finish)."),
        html.H5("Test accuracy per group"),
        records_table(group_columns, groups, empty="No groups."),
    ])


def probe_label(choice: dict) -> str:
    """A probe in the picker: its row and, where known, its label and confound ("probe 12 · label
    positive · confound Positive .")."""
    known = [f"{what} {choice[what]}" for what in ("label", "confound") if choice.get(what) is not None]
    return " · ".join([f"probe {choice['index']}", *known])


PHASE_MARKS = {CidPhase.PRE_ROUND: " pre", CidPhase.POST_ROUND: " post"}


def _marks(snapshots: list[dict]) -> dict:
    """A stop at every snapshot, labelled (step, and pre/post at rounds) at about ten of them."""
    every = max(1, len(snapshots) // 10)
    return {i: (f"{s['step']}{PHASE_MARKS.get(s['phase'], '')}" if i % every == 0 or i == len(snapshots) - 1 else "")
            for i, s in enumerate(snapshots)}


def _snapshot(snapshots: list[dict] | None, index) -> dict | None:
    """The snapshot at slider position `index`, or None."""
    if not snapshots or not isinstance(index, int) or not 0 <= index < len(snapshots):
        return None
    return snapshots[index]


@callback(Output("run-probe", "options"), Output("run-probe", "value"), Output("run-steps", "data"),
          Output("run-step", "min"), Output("run-step", "max"), Output("run-step", "marks"),
          Output("run-step", "value"),
          Input("run-cid-count", "data"), Input("run-probe", "value"), State("run-job-id", "data"),
          State("run-steps", "data"), State("run-step", "value"))
def influence_choices(count, probe, job_id, old_snapshots, chosen):
    """Probes with lists and the snapshots (step, phase) recorded for the chosen one; the slider
    follows the newest snapshot while it was already at the newest."""
    nothing = (no_update,) * 7
    if not count:
        return nothing
    try:
        answer = plain(api().influence(job_id, probe=probe, k=0))
    except ApiError as error:
        if error.status == 404:  # no lists yet
            return nothing
        raise
    snapshots = answer["snapshots"]
    last = len(snapshots) - 1
    at_newest = (_snapshot(old_snapshots, chosen) is None or chosen == len(old_snapshots) - 1
                 or ctx.triggered_id == "run-probe")
    options = [{"label": probe_label(choice), "value": choice["index"]}
               for choice in answer.get("probe_choices") or [{"index": p} for p in answer["probes"]]]
    return options, answer["probe"], snapshots, 0, last, _marks(snapshots), last if at_newest else chosen


@callback(Output("run-hist-graph", "figure"), Output("run-explorer", "children"),
          Input("run-steps", "data"), Input("run-step", "value"), Input("run-k", "value"),
          State("run-probe", "value"), State("run-job-id", "data"))
def figure_one(snapshots, index, k, probe, job_id):
    """Figure 1 for the chosen probe and snapshot, and that probe's most and least influential examples."""
    snapshot = _snapshot(snapshots, index)
    if snapshot is None or probe is None:
        return no_update, html.Div("No influence lists yet.", className="empty")
    step, phase = snapshot["step"], snapshot["phase"]
    try:
        lists = api().influence(job_id, probe=probe, step=step, phase=phase, k=0)
        examples = api().probe_examples(job_id, probe=probe, step=step, phase=phase, k=int(k or 5))
    except ApiError as error:
        return figures.empty_figure(error.message), error_box(error.message)
    return (figures.histogram_figure(lists.a_scores, lists.b_scores, probe, step, phase=phase),
            _explorer(plain(examples)))


EXAMPLE_COLUMNS = [("rank", "#"), ("score", "influence"), ("label", "label"), ("confound", "confound"),
                   ("index", "train row"), ("text", "text")]


def _example_rows(examples: list[dict]) -> list[dict]:
    return [{"rank": str(i + 1), "score": num(e["score"], 6), "label": e.get("label") or "",
             "confound": e.get("confound") or "", "index": str(e["index"]),
             "text": e.get("text") or "(text unavailable)"}
            for i, e in enumerate(examples)]


def _explorer(examples: dict) -> html.Div:
    probe = examples["probe"]
    blocks = [html.P([html.B(f"Probe {probe['index']}"),
                      f" (label {probe.get('label')}, confound {probe.get('confound')}): ",
                      html.Q(probe.get("text") or "(text unavailable)")], className="probe-text")]
    for key, group in (("a", "A: same confound"), ("b", "B: other confound")):
        part = examples[key]
        blocks.append(html.Div([
            html.H5(f"{group} ({part['size']} scored): most influential"),
            records_table(EXAMPLE_COLUMNS, _example_rows(part["most"]), f"explorer-{key}-most"),
            html.H5(f"{group}: least influential"),
            records_table(EXAMPLE_COLUMNS, _example_rows(part["least"]), f"explorer-{key}-least"),
        ], className="half"))
    return html.Div([blocks[0], html.Div(blocks[1:], className="row")])


@callback(Output("run-cid-csv-file", "data"), Input("run-cid-csv", "n_clicks"), State("run-job-id", "data"),
          prevent_initial_call=True)
def cid_csv(_clicks, job_id):
    """Every CID point with its per-probe values (not the display copy)."""
    points = plain(api().cid(job_id).points)
    return dcc.send_string(export.cid_csv([{"job_id": job_id, "points": points}]), f"job{job_id}-cid.csv")


@callback(Output("run-metrics-csv-file", "data"), Input("run-metrics-csv", "n_clicks"), State("run-job-id", "data"),
          prevent_initial_call=True)
def metrics_csv(_clicks, job_id):
    """Every point of every training curve, unthinned."""
    return dcc.send_string(export.metrics_csv(plain(api().metrics(job_id))["series"]), f"job{job_id}-metrics.csv")


@callback(Output("run-hist-csv-file", "data"), Input("run-hist-csv", "n_clicks"), State("run-job-id", "data"),
          State("run-probe", "value"), State("run-step", "value"), State("run-steps", "data"),
          prevent_initial_call=True)
def histogram_csv(_clicks, job_id, probe, index, snapshots):
    """The chosen probe's A and B scores at the chosen snapshot."""
    snapshot = _snapshot(snapshots, index)
    if probe is None or snapshot is None:
        return no_update
    lists = api().influence(job_id, probe=probe, step=snapshot["step"], phase=snapshot["phase"], k=0)
    return dcc.send_string(export.influence_csv(plain(lists)),
                           f"job{job_id}-probe{probe}-step{snapshot['step']}-{snapshot['phase']}.csv")


@callback(Output("run-action", "children"), Input("run-cancel", "n_clicks"), State("run-job-id", "data"),
          prevent_initial_call=True)
def cancel(_clicks, job_id):
    try:
        job = api().cancel(job_id)
    except ApiError as error:
        return error_box(error.message)
    words = "Cancelled." if job.status == JobStatus.CANCELLED else "Stopping within a few seconds…"
    return html.Span(words, className="ok")
