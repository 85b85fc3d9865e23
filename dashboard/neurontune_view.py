"""The NeuronTune section of the Run page: what the method found and the way on from it.

    score histograms   each class's spuriousness scores delta (one bar trace per class), the
                       selected lambda marked: neurons right of it were zeroed
    zeroed neurons     how many, of how many, and which
    before / after     the parent model and the tuned one: accuracy, worst group, per group, CID
    suggestions        the ranked suggested confounds (n-gram, effect size, support, examples),
                       each with "Tune with this confound": influence tuning with it as the
                       dataset's rule confound (POST /api/jobs/{id}/suggestions/{rank}/tune)

Numbers: GET /api/jobs/{id}/diagnostics (neurontune.*), /chain (parent -> NeuronTune -> follow-ups).
The section polls until the job's diagnostics are in (they are recorded when it finishes).
"""
from __future__ import annotations

import plotly.graph_objects as go
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import figures
from dashboard.client import ApiError, api
from dashboard.components import error_box, graph_config, records_table
from dashboard.tables import num, pct
from jobs.contracts.diagnostics import (
    NeuronTuneBeforeAfter,
    NeuronTuneCandidates,
    NeuronTuneScores,
    NeuronTuneSuggestions,
    NeuronTuneZeroed,
    RankedSuggestion,
)
from jobs.contracts.enums import UNFINISHED_STATUSES, MethodName

POLL_MS = 2000
NAMES = ("neurontune.scores", "neurontune.zeroed", "neurontune.candidates", "neurontune.suggestions",
         "neurontune.before_after")
SHOWN_INDICES = 40  # zeroed neuron indices listed before "..."


def section(job: dict) -> html.Div | None:
    """The section for a neurontune job (None for other methods): drawn now if its diagnostics
    are in, else a placeholder that fills itself in when they arrive."""
    if job.get("method") != MethodName.NEURONTUNE:
        return None
    try:
        found = api().diagnostics(job["id"]).items
    except ApiError as error:
        found, problem = {}, error.message
    else:
        problem = None
    ready = all(name in found for name in NAMES)
    return html.Div([
        html.H3("NeuronTune: neurons, before / after, suggested confounds"),
        html.P("Identification on the dev split with class labels only; confounds are hidden from the method "
               "and used here only to evaluate. delta = median activation of a class's misclassified minus "
               "correctly classified examples; neurons with delta > lambda are zeroed and the head retrained "
               "with class-balanced batches.", className="note"),
        html.Div(content(job["id"], found) if ready else
                 (error_box(problem) if problem else
                  html.Div("Diagnostics appear when the job has finished.", className="empty")), id="nt-content"),
        html.Div(id="nt-action"),
        dcc.Store(id="nt-job-id", data=job["id"]),
        dcc.Interval(id="nt-poll", interval=POLL_MS, disabled=ready or job.get("status") in
                     UNFINISHED_STATUSES),
    ], className="card", id="nt-section")


def content(job_id: int, found: dict) -> list:
    """The section's body from the job's diagnostics (name -> payload, read as their models)."""
    scores = NeuronTuneScores.model_validate(found["neurontune.scores"])
    zeroed = NeuronTuneZeroed.model_validate(found["neurontune.zeroed"])
    candidates = NeuronTuneCandidates.model_validate(found["neurontune.candidates"])
    comparison = NeuronTuneBeforeAfter.model_validate(found["neurontune.before_after"])
    suggestions = NeuronTuneSuggestions.model_validate(found["neurontune.suggestions"]).suggestions
    return [
        html.Div([
            html.Div(html.Div([dcc.Graph(id="nt-hist-graph", figure=score_figure(scores),
                                         config=graph_config(f"job{job_id}-neuron-scores"))], className="card"),
                     className="half"),
            html.Div([html.H4("Zeroed neurons"), zeroed_summary(zeroed),
                      html.H5("Lambda candidates"),
                      records_table(*candidate_rows(candidates), "nt-candidates-table")],
                     className="half"),
        ], className="row"),
        html.H4("Parent and NeuronTune"),
        records_table(*before_after_rows(comparison), "nt-before-after-table"),
        html.Div(chain_link(job_id), id="nt-chain"),
        html.H4("Suggested confounds"),
        html.P("n-grams whose presence most raises the biased neurons' activation among one class's dev texts, "
               "ranked by the lower end of the 95% interval of Cohen's d. \"Tune with this confound\" defines "
               "the confound as \"text contains it\" (a rule on the dataset) and queues influence tuning with "
               "the parent's model, seed and data.", className="note"),
        records_table(SUGGESTION_COLUMNS, suggestion_rows(suggestions), "nt-suggestions-table",
                      empty="No suggestion: no n-gram had enough support or raised the biased neurons."),
    ]


def score_figure(scores: NeuronTuneScores) -> go.Figure:
    """One bar trace per class: how many neurons have each delta, with the selected lambda marked."""
    histogram = scores.histogram
    if not histogram:
        return figures.empty_figure("No scores recorded.")
    figure = go.Figure()
    for i, (name, h) in enumerate(histogram.items()):
        edges = h.edges
        centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        figure.add_trace(go.Bar(x=centres, y=h.counts, name=f"class {name}", opacity=0.6,
                                width=(edges[1] - edges[0]) if len(edges) > 1 else None,
                                marker_color=figures.RUN_COLORS[i % len(figures.RUN_COLORS)]))
    lam = scores.lam
    shapes = ([{"type": "line", "xref": "x", "yref": "paper", "x0": lam, "x1": lam, "y0": 0, "y1": 1,
                "line": {"color": "#c0392b", "dash": "dash", "width": 2}}] if lam is not None else [])
    annotations = ([{"x": lam, "y": 1, "xref": "x", "yref": "paper", "text": f"λ = {lam:g} (selected)",
                     "showarrow": False, "xanchor": "left", "yanchor": "bottom", "font": {"color": "#c0392b"}}]
                   if lam is not None else [])
    figure.update_layout(title="Spuriousness scores per class (delta, dev split)", barmode="overlay",
                         xaxis_title="delta (misclassified − correct median activation)",
                         yaxis_title="neurons", shapes=shapes, annotations=annotations,
                         margin=figures.MARGIN, template=figures.STYLE, height=340,
                         legend={"orientation": "h", "y": -0.25})
    return figure


def zeroed_summary(zeroed: NeuronTuneZeroed) -> html.Div:
    indices = zeroed.indices
    shown = ", ".join(map(str, indices[:SHOWN_INDICES])) + (" …" if len(indices) > SHOWN_INDICES else "")
    per_class = "; ".join(f"{name}: {c.count}" for name, c in zeroed.per_class.items())
    return html.Div([
        html.P([html.B(f"{zeroed.count}", id="nt-zeroed-count"), f" of {zeroed.hidden_size} neurons zeroed "
                f"({zeroed.sets}; per class {per_class})."]),
        html.P(f"Indices: {shown}" if indices else "No neuron zeroed.", className="note"),
    ])


CANDIDATE_COLUMNS = [("lambda", "λ"), ("zeroed", "zeroed"), ("sfit", "SFit"), ("dev_acc", "dev acc %"),
                     ("selected", "selected")]


def candidate_rows(candidates: NeuronTuneCandidates) -> tuple[list, list[dict]]:
    rows = [{"lambda": f"{c.lam:g}", "zeroed": str(c.zeroed), "sfit": num(c.sfit),
             "dev_acc": pct(c.dev_acc), "selected": "✓" if c.selected else ""}
            for c in candidates.candidates]
    return CANDIDATE_COLUMNS, rows


BEFORE_AFTER_COLUMNS = [("what", ""), ("parent", "parent"), ("tuned", "NeuronTune"), ("change", "change")]


def before_after_rows(comparison: NeuronTuneBeforeAfter) -> tuple[list, list[dict]]:
    """Test accuracy, worst group and each group's accuracy, dev likewise, then CID: parent vs tuned."""
    def row(what, parent, tuned, as_pct=True):
        show = pct if as_pct else num
        change = (tuned - parent) * (100 if as_pct else 1) if parent is not None and tuned is not None else None
        return {"what": what, "parent": show(parent), "tuned": show(tuned),
                "change": "" if change is None else f"{change:+.1f}" if as_pct else f"{change:+.4g}"}

    rows = []
    for split in ("test", "dev"):
        both = comparison.splits.get(split)
        if not both:
            continue
        parent, tuned = both.parent, both.tuned
        rows.append(row(f"{split} accuracy %", parent.acc, tuned.acc))
        rows.append(row(f"{split} worst group %", parent.worst_group_acc, tuned.worst_group_acc))
        if split == "test":
            for group in parent.per_group:
                rows.append(row(f"test group {group} %", parent.per_group.get(group), tuned.per_group.get(group)))
    rows.append(row("CID", comparison.cid.parent, comparison.cid.tuned, as_pct=False))
    return BEFORE_AFTER_COLUMNS, rows


SUGGESTION_COLUMNS = [("rank", "#"), ("ngram", "n-gram"), ("kind", "kind"), ("class", "class"),
                      ("effect", "effect d (95% low)"), ("support", "support"), ("examples", "example sentences"),
                      ("action", "")]


def suggestion_rows(suggestions: list[RankedSuggestion]) -> list[dict]:
    return [{"rank": str(s.rank), "ngram": html.Code(s.ngram), "kind": s.kind, "class": s.class_name,
             "effect": f"{s.effect:.2f} ({s.lower:.2f})", "support": str(s.support),
             "examples": html.Ul([html.Li(text) for text in s.examples], className="examples"),
             "action": html.Button("Tune with this confound", id={"type": "nt-tune", "rank": s.rank},
                                   className="small", title=f"influence tuning with the rule {s.rule}")}
            for s in suggestions]


def chain_link(job_id: int):
    """A link to the Compare page with the chain's runs (parent, NeuronTune, follow-ups) overlaid."""
    try:
        chain = api().chain(job_id)
    except ApiError as error:
        return error_box(error.message)
    runs = chain.compare
    words = {1: "Compare this run", 2: "Compare the parent and NeuronTune"}.get(
        len(runs), f"Compare the parent, NeuronTune and {len(runs) - 2} influence-tuning follow-up(s)")
    return dcc.Link(words + f" (jobs {', '.join(map(str, runs))})", href="/compare?jobs=" + ",".join(map(str, runs)),
                    id="nt-compare-link", className="small-link")


@callback(Output("nt-content", "children"), Output("nt-poll", "disabled"), Input("nt-poll", "n_intervals"),
          State("nt-job-id", "data"), prevent_initial_call=True)
def poll(_n, job_id):
    """Fill the section in once the job's diagnostics are all recorded."""
    try:
        found = api().diagnostics(job_id).items
        status = api().job(job_id).status
    except ApiError as error:
        return error_box(error.message), no_update
    if all(name in found for name in NAMES):
        return content(job_id, found), True
    if status in UNFINISHED_STATUSES:
        return html.Div(f"The job {status}: no diagnostics.", className="empty"), True
    return no_update, no_update


@callback(Output("nt-action", "children"), Output("nt-chain", "children"),
          Input({"type": "nt-tune", "rank": ALL}, "n_clicks"), State("nt-job-id", "data"),
          prevent_initial_call=True)
def tune(clicks, job_id):
    """Queue influence tuning with the clicked suggestion as the dataset's confound."""
    if not ctx.triggered_id or not any(clicks or []):  # the buttons appearing is no click
        return no_update, no_update
    rank = ctx.triggered_id["rank"]
    try:
        job = api().tune_suggestion(job_id, rank)
    except ApiError as error:
        return error_box(error.message), no_update
    suggestion = job.params["suggestion"]
    return (html.Div([f"Queued influence tuning with \"{suggestion['ngram']}\" as the confound "
                      f"(rule {suggestion['rule']}): ",
                      dcc.Link(f"job #{job.id}", href=f"/run/{job.id}", id="nt-new-job")], className="ok"),
            chain_link(job_id))
