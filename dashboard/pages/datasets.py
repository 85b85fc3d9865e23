"""Datasets: Table 1 of every dataset, sample rows of each (label, confound) group, and the
upload of a custom CSV/JSONL dataset.

Numbers: GET /api/datasets (Table 1 statistics, computed by the engine's loader),
GET /api/datasets/{name}/samples, POST /api/datasets.
"""
from __future__ import annotations

import base64
import binascii

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard import export, semantics
from dashboard.client import ApiError, api
from dashboard.components import error_box, records_table
from dashboard.tables import pairing_text, table1_rows


def layout(**_query):
    return html.Div([
        html.H2("Datasets"),
        html.Div([
            html.H3("Statistics (Table 1)"),
            html.P(semantics.TABLE1, className="note"),
            html.Div(id="datasets-table"),
            html.Div([html.Button("Download (CSV)", id="datasets-csv", className="small"),
                      dcc.Download(id="datasets-csv-file")], className="card-actions"),
        ], className="card"),
        html.Div([
            html.H3("Rows by group"),
            html.Div([dcc.Dropdown(id="samples-dataset", placeholder="choose a dataset", className="filter"),
                      dcc.RadioItems(["train", "dev", "test"], "train", id="samples-split", inline=True)],
                     className="filters"),
            html.Div(id="samples"),
        ], className="card"),
        html.Div([
            html.H3("Upload a dataset"),
            html.P("A .csv, .tsv or .jsonl file with a text column, a label column and either a confound column or "
                   "a rule that reads the confound from the text ('token:WORD' or 'regex:PATTERN'). It is checked "
                   "with the engine's loader before it is kept; then choose it in the Jobs form.", className="note"),
            html.Div([
                html.Div([html.Label("text column"), dcc.Input(id="upload-text", value="text", className="input")],
                         className="field"),
                html.Div([html.Label("label column"), dcc.Input(id="upload-label", value="label", className="input")],
                         className="field"),
                html.Div([html.Label("confound column (empty: none)"),
                          dcc.Input(id="upload-confound", value="confound", className="input")], className="field"),
                html.Div([html.Label("confound rule"), dcc.Input(id="upload-rule", placeholder="token:WORD",
                                                                 className="input")], className="field"),
            ], className="form-grid"),
            dcc.Upload(html.Div(["Drop a file here or ", html.A("choose one")]), id="upload-file",
                       className="upload", multiple=False),
            html.Div(id="upload-chosen", className="note"),
            html.Button("Upload", id="upload-submit", className="primary"),
            html.Div(id="upload-result", className="form-result"),
        ], className="card"),
        dcc.Store(id="datasets-changed", data=0),
    ])



dash.register_page(__name__, path="/datasets", name="Datasets", title="deconfound · datasets", order=2, layout=layout)

@callback(Output("datasets-table", "children"), Output("samples-dataset", "options"),
          Output("samples-dataset", "value"), Input("datasets-changed", "data"), State("samples-dataset", "value"))
def show_datasets(_changed, chosen):
    """Table 1 of the built-in and uploaded datasets."""
    try:
        datasets = api().datasets()
    except ApiError as error:
        return error_box(error.message), [], None
    columns, rows = table1_rows(datasets)
    names = [r["name"] for r in rows]
    return (records_table(columns, rows, "table1", empty="No datasets."), names,
            chosen if chosen in names else (names[0] if names else None))


@callback(Output("samples", "children"), Input("samples-dataset", "value"), Input("samples-split", "value"))
def show_samples(name, split):
    """The first rows of each (label, confound) group."""
    if not name:
        return html.Div("Choose a dataset.", className="empty")
    try:
        answer = api().dataset_samples(name, split=split or "train", per_group=3)
    except ApiError as error:
        return error_box(error.message)
    blocks = []
    for group in answer.groups:
        blocks.append(html.Div([
            html.H5(f"label {group.label} · confound {group.confound} · {group.count} rows"),
            html.Ul([html.Li(row.text) for row in group.rows]) if group.rows
            else html.Div("No rows in this group.", className="empty"),
        ], className="sample-group"))
    return html.Div(blocks, className="samples", id="samples-groups")


@callback(Output("datasets-csv-file", "data"), Input("datasets-csv", "n_clicks"), prevent_initial_call=True)
def datasets_csv(_clicks):
    columns, rows = table1_rows(api().datasets())
    return dcc.send_string(export.records_csv(columns, rows), "datasets-table1.csv")


@callback(Output("upload-chosen", "children"), Input("upload-file", "filename"))
def chosen_file(filename):
    return f"Chosen: {filename}" if filename else ""


@callback(Output("upload-result", "children"), Output("datasets-changed", "data"),
          Input("upload-submit", "n_clicks"), State("upload-file", "contents"), State("upload-file", "filename"),
          State("upload-text", "value"), State("upload-label", "value"), State("upload-confound", "value"),
          State("upload-rule", "value"), State("datasets-changed", "data"), prevent_initial_call=True)
def upload(_clicks, contents, filename, text_column, label_column, confound_column, rule, changed):
    """Send the chosen file to the API; its verdict (or the new dataset's name) is shown."""
    if not contents:
        return error_box("Choose a file first."), no_update
    try:
        content = base64.b64decode(contents.split(",", 1)[1])
    except (IndexError, binascii.Error):
        return error_box("The file could not be read."), no_update
    try:
        stored = api().upload_dataset(filename, content, {
            "text_column": text_column or "text", "label_column": label_column or "label",
            "confound_column": confound_column or "", "confound_rule": rule or None})
    except ApiError as error:
        return error_box(f"Not uploaded: {error.message}"), no_update
    train = stored.stats.splits["train"].size if "train" in stored.stats.splits else 0
    pairing = pairing_text(stored.stats)
    done = html.Div(f"Uploaded {stored.name} as {stored.path} ({train} training rows"
                    + (f"; the confound agrees when {pairing}" if pairing else "") + "): choose it in the Jobs form.",
                    className="ok")
    warnings = [html.Div(f"Warning: {w}", className="warning") for w in stored.stats.warnings]
    return (html.Div([done, *warnings]) if warnings else done), (changed or 0) + 1
