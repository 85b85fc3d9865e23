"""The layers import one way and jobs/ has no import cycles: the contracts of .importlinter
(import-linter), checked here so that `make test` enforces them, and a module-level cycle search
(grimp) that names the modules of any cycle, in-function and TYPE_CHECKING imports included."""
from __future__ import annotations

from pathlib import Path

import grimp
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

ROOT = Path(__file__).resolve().parents[1]


def module_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & modules) for m in sorted(modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return cycles


def test_the_import_contracts_are_kept(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert status == EXIT_STATUS_SUCCESS, report
    assert "Contracts: 6 kept, 0 broken." in report


def test_no_module_of_jobs_is_in_an_import_cycle():
    graph = grimp.build_graph("jobs", cache_dir=None)
    assert module_cycles(graph, set(graph.modules)) == []


def test_no_module_of_backend_is_in_an_import_cycle():
    graph = grimp.build_graph("backend", cache_dir=None)
    assert module_cycles(graph, set(graph.modules)) == []


def test_no_service_queue_or_store_module_imports_a_route():
    # The layers contract, said directly: a service that needs something of a route module means
    # that thing belongs in the service (backend/services), not that the arrow may turn.
    graph = grimp.build_graph("backend", cache_dir=None)
    lower = {m for m in graph.modules if m.split(".")[1:2] in (["services"], ["queue"], ["store"])}
    upward = {(m, i) for m in lower for i in graph.find_modules_directly_imported_by(m)
              if i.startswith(("backend.api", "backend.cli", "backend.up"))}
    assert lower and upward == set()


def test_the_cycle_search_finds_a_cycle():
    # The search itself: a graph with the cycle jobs/ once had (runner -> methods -> neurontune -> runner).
    graph = grimp.ImportGraph()
    for importer, imported in [("jobs.runner", "jobs.methods"), ("jobs.methods", "jobs.methods.neurontune"),
                               ("jobs.methods.neurontune", "jobs.runner"), ("jobs.runner", "jobs.spec")]:
        graph.add_import(importer=importer, imported=imported)
    assert module_cycles(graph, set(graph.modules)) == [["jobs.methods", "jobs.methods.neurontune", "jobs.runner"]]


def test_routes_only_parse_call_a_service_and_shape():
    # Routes hold no queries: a route module names no store model, builds no select() and calls
    # nothing on the session but hands it to a service (backend/services), which raises the kinds
    # of backend.services.errors that create_app maps to status codes once.
    import re
    query = re.compile(r"select\(|session\.\w+\(|backend\.store\.models|from sqlalchemy import")
    found = {path.name: query.findall(path.read_text()) for path in sorted((ROOT / "backend" / "api").glob("*.py"))}
    assert {name: hits for name, hits in found.items() if hits} == {}
