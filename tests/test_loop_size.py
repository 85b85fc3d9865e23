"""The shared training loop stays a short loop over label steps that fires events: everything
else is a callback (jobs.methods.callbacks) or a method's hook (issue 15, item 5)."""
from __future__ import annotations

import ast
from pathlib import Path

import jobs.methods.loop

MAX_LINES = 40


def function_lines(path: Path, name: str) -> int:
    """The lines of the top-level function `name` in `path`, from `def` to its last line
    (decorators aside, docstring included)."""
    tree = ast.parse(path.read_text())
    [function] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    return function.end_lineno - function.lineno + 1


def test_run_method_is_under_40_lines():
    lines = function_lines(Path(jobs.methods.loop.__file__), "run_method")
    assert lines < MAX_LINES, f"run_method has {lines} lines: move the new concern into a callback"


def test_the_line_count_sees_the_whole_function(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f(\n    a,\n):\n    '''doc'''\n    x = a\n\n    return x\n\n\ndef g():\n    pass\n")
    assert function_lines(source, "f") == 7 and function_lines(source, "g") == 2
