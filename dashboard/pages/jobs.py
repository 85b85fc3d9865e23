"""Jobs: the submit form (validated and costed by the API as you type) and every job, with
progress, ETA and final accuracies; filters; cancel and delete.

The form queues one job, an experiment (several methods or seeds) or a sweep: a grid over the
hyperparameter fields given as comma-separated values (or the paper's search space), whose best
point per method by mean dev accuracy is selected in its Table 2.

Numbers: the list is GET /api/jobs; a finished job's accuracies are its GET /api/jobs/{id}/results
(fetched once and kept in the page); the cost is POST /api/jobs/estimate; the paper's grids are
GET /api/experiments/search-spaces; a sweep is POST /api/experiments with kind "sweep".
"""
from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import semantics, spec_form
from dashboard.client import ApiError, api, plain, plain_metrics
from dashboard.components import error_box, progress_bar, status_badge
from dashboard.tables import job_outcome
from jobs.contracts.enums import ACTIVE_STATUSES, JOB_STATUSES, TRAINED_STATUSES, JobStatus

PAGE_SIZE = 25
POLL_MS = 2000


def _choices() -> tuple[dict, str | None]:
    """Datasets, models, methods and presets from the API (empty lists and a message if it is down)."""
    try:
        client = api()
        datasets, models, methods, presets = client.datasets(), client.models(), client.methods(), client.presets()
    except ApiError as error:
        return {"datasets": [], "models": [], "default_model": None, "methods": [], "presets": []}, error.message
    return {
        "datasets": [{"label": d.name, "value": d.name} for d in datasets.builtin]
        + [{"label": f"{u.name} (upload:{u.id})", "value": f"upload:{u.id}"} for u in datasets.uploaded],
        # The name alone is a text of its own (what a test or a user picks by), the detail beside it.
        "models": [{"label": html.Span([html.Span(c["name"]), html.Span(f"  {c['detail']}", className="option-detail")],
                                       title=c["title"]),
                    "value": c["value"], "search": f"{c['name']} {c['detail']}"}
                   for c in spec_form.model_choices(models)],
        "default_model": models.default,
        "methods": [{"label": m.name.value, "value": m.name.value, "title": m.description} for m in methods.methods],
        "presets": [{"label": p, "value": p} for p in presets.names],
    }, None


def _message(path: str) -> html.Div:
    return html.Div(id={"type": "spec-msg", "path": path}, className="field-msg")


def _labelled(label: str, control, path: str | None = None, field_id: str | None = None) -> html.Div:
    return html.Div([html.Label(label, htmlFor=field_id), control, *([_message(path)] if path else [])],
                    className="field")


def _form(choices: dict) -> html.Div:
    hyper = [html.Div(_labelled(f.label, dcc.Input(id={"type": "spec-field", "path": f.path}, type="text",
                                                   debounce=True, className="input"), f.path),
                      id={"type": "spec-box", "path": f.path}) for f in spec_form.FIELDS]
    return html.Div([
        html.H3("New job, experiment or sweep"),
        html.Div([
            dcc.RadioItems([{"label": "jobs: one per method and seed", "value": "jobs"},
                            {"label": "sweep: every combination of the comma-separated values typed in the "
                                      "hyperparameter fields, best point selected on dev", "value": "sweep"}],
                           "jobs", id="form-mode", className="mode-choice"),
            html.Button("Fill in the paper's search space", id="form-paper-space", className="small",
                        title="GET /api/experiments/search-spaces: the paper's grid (Appendix A) of the chosen "
                              "dataset and method"),
            html.Div(id="form-space-note"),
        ], className="actions"),
        html.Div([
            _labelled("dataset", dcc.Dropdown(choices["datasets"], "textlen", id="form-dataset", clearable=False),
                      "dataset"),
            _labelled("dataset options (JSON)", dcc.Input(id="form-options", type="text", debounce=True,
                                                          placeholder='e.g. {"train_size": 200}', className="input"),
                      "dataset.options"),
            _labelled("model", dcc.Dropdown(choices["models"], choices["default_model"], id="form-model",
                                            clearable=False), "model"),
            _labelled("method(s)", dcc.Dropdown(choices["methods"], ["finetune"], id="form-method", multi=True),
                      "method"),
            _labelled("preset", dcc.Dropdown(choices["presets"], None, id="form-preset",
                                             placeholder="none: JobSpec defaults"), "preset"),
            _labelled("seeds", dcc.Input(id="form-seeds", type="text", value="2021", debounce=True,
                                         className="input"), "seed"),
            _labelled("device", dcc.Dropdown(["auto", "cpu", "cuda"], "auto", id="form-device", clearable=False),
                      "device"),
            _labelled("experiment name (several jobs)", dcc.Input(id="form-experiment", type="text",
                                                                  placeholder="experiment", className="input")),
        ], className="form-grid"),
        html.Details([html.Summary("Hyperparameters (empty = the preset's value, else the default shown)"),
                      html.Div(hyper, className="form-grid")], open=True),
        _message("spec"),
        html.Div(id="form-estimate", className="estimate"),
        html.Button("Submit", id="form-submit", className="primary"),
        html.Div(id="form-result", className="form-result"),
    ], className="card")


def layout(**_query):
    """The page (Dash calls it on every visit, so the choices are fresh)."""
    choices, problem = _choices()
    return html.Div([
        html.H2("Jobs"),
        error_box(problem) if problem else None,
        _form(choices),
        html.Div([
            html.H3("All jobs"),
            html.Div([
                dcc.Dropdown([s.value for s in JOB_STATUSES], None, id="filter-status", placeholder="any status", className="filter"),
                dcc.Dropdown(choices["datasets"], None, id="filter-dataset", placeholder="any dataset",
                             className="filter"),
                dcc.Dropdown(choices["methods"], None, id="filter-method", placeholder="any method",
                             className="filter"),
                dcc.Input(id="filter-experiment", type="text", placeholder="experiment id", debounce=True,
                          className="input filter short-filter"),
            ], className="filters"),
            html.Div(id="jobs-action", className="form-result"),
            html.Div(id="jobs-table"),
            html.Div([html.Button("← newer", id="jobs-prev", className="small"),
                      html.Span(id="jobs-page-label", className="page-label"),
                      html.Button("older →", id="jobs-next", className="small")], className="pager"),
            html.Ul([html.Li(semantics.CID), html.Li(semantics.BEHAVIOUR), html.Li(semantics.COLLAPSED)],
                    className="semantics"),
        ], className="card"),
        dcc.Store(id="jobs-page", data=0),
        dcc.Store(id="jobs-outcomes", data={}),
        dcc.Store(id="jobs-changed", data=0),
        dcc.Interval(id="jobs-poll", interval=POLL_MS),
    ])



dash.register_page(__name__, path="/", name="Jobs", title="deconfound · jobs", order=0, layout=layout)

FORM_STATE = [State("form-mode", "value"), State("form-dataset", "value"), State("form-options", "value"),
              State("form-model", "value"),
              State("form-method", "value"), State("form-preset", "value"), State("form-seeds", "value"),
              State("form-device", "value"), State({"type": "spec-field", "path": ALL}, "value")]


def _specs(mode, dataset, options, model, methods, preset, seeds_text, device, values, paths):
    """(one spec per method and seed, local errors by field, each method's grid or None) from
    the form. A sweep's specs are its first grid point (what the dry run checks and costs)."""
    seeds, seeds_error = spec_form.parse_seeds(seeds_text)
    methods = methods or ["finetune"]
    field_values = dict(zip(paths, values, strict=False))
    grids, list_errors = None, {}
    if mode == "sweep":
        lists, list_errors = spec_form.sweep_lists(field_values)
        field_values = spec_form.first_values(lists)
        grids = {method: spec_form.method_grid(lists, method) for method in methods}
    else:
        list_errors = {path: "several values make a sweep: choose “sweep” above" for path, value
                       in field_values.items() if value and "," in str(value)}
    specs, errors = [], {}
    for method in methods:
        for seed in seeds or [2021]:
            spec, problems = spec_form.build_spec(dataset, options, model, method, preset, seed, device, field_values)
            specs.append(spec)
            errors.update(problems)
    errors.update(list_errors)
    if seeds_error:
        errors["seed"] = seeds_error
    return specs, errors, grids


@callback(Output({"type": "spec-field", "path": ALL}, "placeholder"),
          Output({"type": "spec-msg", "path": ALL}, "children"),
          Output({"type": "spec-box", "path": ALL}, "style"),
          Output("form-estimate", "children"),
          Input("form-dataset", "value"), Input("form-options", "value"), Input("form-model", "value"),
          Input("form-method", "value"), Input("form-preset", "value"), Input("form-seeds", "value"),
          Input("form-device", "value"), Input({"type": "spec-field", "path": ALL}, "value"),
          Input("form-mode", "value"), State("form-estimate", "children"))
def check_form(dataset, options, model, methods, preset, seeds_text, device, values, mode, _shown):
    """Dry-run the spec through the API: its messages go beside their fields, the resolved
    values become the placeholders, and the cost (a sweep: its job count) is shown before launch."""
    paths = [o["id"]["path"] for o in ctx.outputs_list[0]]
    message_paths = [o["id"]["path"] for o in ctx.outputs_list[1]]
    box_paths = [o["id"]["path"] for o in ctx.outputs_list[2]]
    chosen = methods or ["finetune"]
    styles = [None if not field.methods or set(chosen) & set(field.methods) else {"display": "none"}
              for field in (next(f for f in spec_form.FIELDS if f.path == p) for p in box_paths)]
    specs, errors, grids = _specs(mode, dataset, options, model, chosen, preset, seeds_text, device, values, paths)
    placeholders, estimate_text = [no_update] * len(paths), ""
    if not errors:
        try:
            # One dry run per method (the seeds do not change the cost).
            estimates = [plain(api().estimate(spec)) for spec in specs[::max(1, len(specs) // len(chosen))]]
        except ApiError as error:
            errors = spec_form.field_messages(error)
        else:
            resolved = estimates[0]["spec"]
            placeholders = ["" if spec_form.lookup(resolved, p) is None else str(spec_form.lookup(resolved, p))
                            for p in paths]
            if grids is not None:
                estimate_text = _sweep_estimate(chosen, estimates, grids, len(specs) // len(chosen))
                return placeholders, [""] * len(message_paths), styles, estimate_text
            jobs = len(specs)
            lines = [spec_form.describe_estimate(e, jobs // len(estimates)) for e in estimates]
            estimate_text = [html.Div(f"{m}: {line}" if len(estimates) > 1 else line)
                             for m, line in zip(chosen, lines, strict=False)]
            if jobs > 1:
                estimate_text.append(html.Div(f"{jobs} jobs will be queued as one experiment "
                                              "(its Table 2 is on the Compare page)."))
    messages = [errors.get(p, "") for p in message_paths]
    if errors and not any(messages):
        messages[message_paths.index("spec")] = "; ".join(errors.values())
    if errors and not estimate_text:
        estimate_text = "Fix the marked fields to see the cost."
    return placeholders, messages, styles, estimate_text


def _sweep_estimate(methods: list[str], estimates: list[dict], grids: dict, seeds: int) -> list:
    """The cost of each method's first grid point, then the job count (grid points x seeds)."""
    lines = [html.Div(f"{method}, first grid point: "
                      + spec_form.describe_estimate(estimate, spec_form.grid_points(grids[method]) * seeds))
             for method, estimate in zip(methods, estimates, strict=False)]
    count = spec_form.describe_sweep(grids, seeds)
    return [*lines, html.Div([html.Div(line) for line in count], id="form-job-count", className="job-count")]


@callback(Output({"type": "spec-field", "path": ALL}, "value"), Output("form-mode", "value"),
          Output("form-space-note", "children"), Input("form-paper-space", "n_clicks"),
          State("form-dataset", "value"), State("form-method", "value"),
          State({"type": "spec-field", "path": ALL}, "value"), prevent_initial_call=True)
def fill_search_space(_clicks, dataset, methods, values):
    """The paper's grid of the chosen dataset and method into the fields, as a sweep."""
    paths = [s["id"]["path"] for s in ctx.states_list[2]]
    unchanged = [no_update] * len(paths)  # a wildcard output wants one entry per field
    try:
        spaces = plain(api().search_spaces())
    except ApiError as error:
        return unchanged, no_update, error_box(error.message)
    filled, note = spec_form.search_space_values(spaces, dataset, methods or ["finetune"])
    if not filled:
        return unchanged, no_update, html.Div(note, className="note", id="form-space-chosen")
    return ([filled.get(path, value) for path, value in zip(paths, values, strict=False)], "sweep",
            html.Div(note, className="note", id="form-space-chosen"))


@callback(Output("form-result", "children"), Output("jobs-changed", "data", allow_duplicate=True),
          Output({"type": "spec-msg", "path": ALL}, "children", allow_duplicate=True),
          Input("form-submit", "n_clicks"), *FORM_STATE, State("form-experiment", "value"),
          State("jobs-changed", "data"), prevent_initial_call=True)
def submit(_clicks, mode, dataset, options, model, methods, preset, seeds_text, device, values, experiment_name,
           changed):
    """Queue the job, an experiment when several methods or seeds are chosen, or a sweep. The
    API's complaints about any job of the grid go beside their fields."""
    paths = [s["id"]["path"] for s in ctx.states_list[8]]
    message_paths = [o["id"]["path"] for o in ctx.outputs_list[2]]
    specs, errors, grids = _specs(mode, dataset, options, model, methods, preset, seeds_text, device, values, paths)
    if errors:
        return (error_box("Not submitted: " + "; ".join(f"{k}: {v}" for k, v in errors.items())), no_update,
                [no_update] * len(message_paths))  # a wildcard output wants one entry per field
    try:
        if grids is not None:
            seeds, _ = spec_form.parse_seeds(seeds_text)
            per_method = {spec["method"]: spec for spec in specs}
            experiment = api().create_experiment(spec_form.experiment_body(experiment_name, per_method, seeds, grids))
            return html.Div(["Queued sweep ", dcc.Link(f"experiment #{experiment.id}",
                                                       href=f"/compare?experiment={experiment.id}",
                                                       id="form-experiment-link"),
                             f" with {len(experiment.job_ids)} jobs: its progress and Table 2 are there, "
                             "and on the ", dcc.Link("Experiments", href="/experiments"), " page."],
                            className="ok"), (changed or 0) + 1, [""] * len(message_paths)
        if len(specs) == 1:
            job = api().submit(specs[0])
            return html.Div(["Queued ", dcc.Link(f"job #{job.id}", href=f"/run/{job.id}"), "."],
                            className="ok"), (changed or 0) + 1, [""] * len(message_paths)
        # Each method keeps the spec the form built for it (its own fields, e.g. influence rounds).
        seeds, _ = spec_form.parse_seeds(seeds_text)
        per_method = {spec["method"]: spec for spec in specs}
        experiment = api().create_experiment(spec_form.experiment_body(experiment_name, per_method, seeds))
        return html.Div(["Queued ", dcc.Link(f"experiment #{experiment.id}",
                                             href=f"/compare?experiment={experiment.id}",
                                             id="form-experiment-link"),
                         f" with {len(experiment.job_ids)} jobs."], className="ok"), (changed or 0) + 1, [""] * len(message_paths)
    except ApiError as error:
        beside = spec_form.field_messages(error)
        return (error_box("Not submitted: " + error.message), no_update,
                [beside.get(path, "") for path in message_paths])


def _row(job: dict, outcome: dict | None) -> html.Tr:
    progress = job.get("progress") or {}
    outcome = outcome or {}
    actions = []
    if job["status"] in ACTIVE_STATUSES:
        actions.append(html.Button("Cancel", id={"type": "job-cancel", "index": job["id"]}, className="small"))
    else:
        actions.append(html.Button("Delete", id={"type": "job-delete", "index": job["id"]}, className="small danger"))
    error = job.get("error")
    return html.Tr([
        html.Td(dcc.Link(f"#{job['id']}", href=f"/run/{job['id']}")),
        html.Td(status_badge(job["status"]), title=(error or "").splitlines()[0] if error else None),
        html.Td(job["dataset"]), html.Td(job["method"]), html.Td(job["model"]), html.Td(str(job["seed"])),
        html.Td(str(job["experiment_id"] or "")),
        html.Td(progress_bar(progress, job["status"])),
        *[html.Td(outcome.get(key, ""), className=f"col-{key}") for key in OUTCOME_KEYS],
        html.Td(actions),
    ], className=f"job-row status-{job['status']}", id=f"job-row-{job['id']}")


OUTCOME_KEYS = ("test_acc", "worst_group_acc", "cid", "gap", "flip_rate")  # dashboard.tables.job_outcome
HEADERS = ("job", "status", "dataset", "method", "model", "seed", "experiment", "progress", "test acc %",
           "worst group %", "final CID", "agree − disagree", "flip rate %", "")


@callback(Output("jobs-table", "children"), Output("jobs-outcomes", "data"), Output("jobs-page-label", "children"),
          Input("jobs-poll", "n_intervals"), Input("filter-status", "value"), Input("filter-dataset", "value"),
          Input("filter-method", "value"), Input("filter-experiment", "value"), Input("jobs-page", "data"),
          Input("jobs-changed", "data"), State("jobs-outcomes", "data"))
def show_jobs(_n, status, dataset, method, experiment, page, _changed, outcomes):
    """The job list, newest first; a finished job's accuracies are fetched once and kept."""
    outcomes = dict(outcomes or {})
    try:
        experiment = int(experiment) if experiment and str(experiment).strip().isdigit() else None
        listing = plain(api().jobs(status=status, dataset=dataset, method=method, experiment=experiment,
                                   limit=PAGE_SIZE, offset=(page or 0) * PAGE_SIZE))
        for job in listing["items"]:
            key = str(job["id"])
            if job["status"] in TRAINED_STATUSES and key not in outcomes:
                outcomes[key] = job_outcome(plain_metrics(api().results(job["id"])))
    except ApiError as error:
        return error_box(error.message), no_update, ""
    if not listing["items"]:
        filtered = any(v not in (None, "") for v in (status, dataset, method, experiment))
        text = ("No job matches these filters." if filtered else "No more jobs: go back a page." if page
                else "No jobs yet: submit one with the form above.")
        return html.Div(text, className="empty"), outcomes, ""
    start = listing["offset"] + 1
    label = f"{start}–{start + len(listing['items']) - 1} of {listing['total']}"
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in HEADERS])),
                        html.Tbody([_row(j, outcomes.get(str(j["id"]))) for j in listing["items"]])],
                       className="table", id="jobs-list")
    return html.Div(table, className="table-wrap"), outcomes, label


@callback(Output("jobs-page", "data"), Input("jobs-prev", "n_clicks"), Input("jobs-next", "n_clicks"),
          State("jobs-page", "data"), prevent_initial_call=True)
def turn_page(_prev, _next, page):
    page = page or 0
    return max(0, page - 1) if ctx.triggered_id == "jobs-prev" else page + 1


@callback(Output("jobs-action", "children"), Output("jobs-changed", "data", allow_duplicate=True),
          Input({"type": "job-cancel", "index": ALL}, "n_clicks"),
          Input({"type": "job-delete", "index": ALL}, "n_clicks"),
          State("jobs-changed", "data"), prevent_initial_call=True)
def act(_cancels, _deletes, changed):
    """Cancel or delete the job whose button was pressed."""
    trigger = ctx.triggered_id
    if not trigger or not any(t["value"] for t in ctx.triggered):
        return no_update, no_update  # buttons that were just drawn, not clicked
    job_id = trigger["index"]
    try:
        if trigger["type"] == "job-cancel":
            job = api().cancel(job_id)
            text = f"Job #{job_id} " + ("cancelled." if job.status == JobStatus.CANCELLED else "is stopping.")
        else:
            api().delete(job_id)
            text = f"Job #{job_id} deleted."
    except ApiError as error:
        return error_box(error.message), (changed or 0) + 1
    return html.Div(text, className="ok"), (changed or 0) + 1
