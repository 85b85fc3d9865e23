"""No test asserts how long something took, and no test waits on a short fixed timeout.

A fresh-clone `make test` at load 20-60 failed 10 tests, every one on a wall-clock assert or a
short wait (`assert render_s < 10`, `build < 2.0 s`, 150 s / 120 s / 20 s waits), and all 10
passed at load 6. Timing claims live in benchmarks/ (ratios against a baseline of the same run,
docs/performance.md); tests wait for events through tests/helpers.py, whose one ceiling
(DECONFOUND_TEST_WAIT_S) only a hang reaches. This reads the source of every module under
tests/ (its syntax tree, so strings and comments do not count) and names each offending line.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# The one module that may read a clock: it implements the waits.
CLOCK_ALLOWED = {"helpers.py"}
CLOCKS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns", "process_time"}
# Names that hold a duration: render_s, wall_s, took, elapsed, seconds, duration_ms, ...
DURATION_NAME = re.compile(r"(^|_)(s|secs?|seconds|ms|elapsed|took|duration|wall)$")
WAIT_METHODS = {"wait", "communicate", "join"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value
    return ""


def _is_clock_call(node: ast.AST) -> bool:
    """time.perf_counter(), time.monotonic(), time.time(), perf_counter() and the like."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in CLOCKS and isinstance(func.value, ast.Name) and func.value.id == "time"
    return isinstance(func, ast.Name) and func.id in CLOCKS - {"time"}


def _is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool)


def _upper_bound_on_a_duration(test: ast.AST) -> bool:
    """`x_s < 10`, `took <= 5`, `10 > elapsed`, `job["wall_s"] < 2.0` anywhere in an assert."""
    for node in ast.walk(test):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for left, op, right in zip(operands, node.ops, operands[1:], strict=False):
            if isinstance(op, ast.Lt | ast.LtE) and _is_number(right) and DURATION_NAME.search(_name(left)):
                return True
            if isinstance(op, ast.Gt | ast.GtE) and _is_number(left) and DURATION_NAME.search(_name(right)):
                return True
    return False


def _caught_timeout(handlers: list[ast.ExceptHandler]) -> bool:
    return any(handler.type is not None and "TimeoutExpired" in ast.unparse(handler.type) for handler in handlers)


class Finder(ast.NodeVisitor):
    """Collects (line, what is wrong) of one module."""

    def __init__(self, clock_allowed: bool):
        self.clock_allowed = clock_allowed
        self.grace = 0  # inside `try: ... except TimeoutExpired:` (a grace period before a kill)
        self.found: list[tuple[int, str]] = []

    def visit_Try(self, node: ast.Try) -> None:
        grace = _caught_timeout(node.handlers)
        self.grace += grace
        for child in node.body:
            self.visit(child)
        self.grace -= grace
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(child)

    def visit_Assert(self, node: ast.Assert) -> None:
        if any(_is_clock_call(n) for n in ast.walk(node.test)):
            self.found.append((node.lineno, "asserts on a clock reading"))
        elif _upper_bound_on_a_duration(node.test):
            self.found.append((node.lineno, "asserts an upper bound on a duration"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if _is_clock_call(node) and not self.clock_allowed:
            self.found.append((node.lineno, "reads a clock (wait with tests.helpers.wait_for; time it in benchmarks/)"))
        literal_timeout = any(k.arg == "timeout" and _is_number(k.value) for k in node.keywords)
        if isinstance(func, ast.Attribute) and func.attr in WAIT_METHODS and literal_timeout and not self.grace:
            self.found.append((node.lineno, f".{func.attr}(timeout=<number>): use tests.helpers.wait_exit / "
                                            "communicate / WAIT_S"))
        if _name(func) == "run" and literal_timeout and not self.grace:
            self.found.append((node.lineno, "subprocess.run(timeout=<number>): use tests.helpers.WAIT_S"))
        if _name(func) == "WebDriverWait" and len(node.args) > 1 and _is_number(node.args[1]):
            self.found.append((node.lineno, "WebDriverWait(driver, <number>): use tests.helpers.WAIT_S"))
        if ast.unparse(func).endswith("mark.timeout") and node.args and _is_number(node.args[0]):
            self.found.append((node.lineno, "pytest.mark.timeout(<number>): the hang guard is tests/conftest.py's"))
        self.generic_visit(node)


def timing_faults(source: str, filename: str = "<test>") -> list[tuple[int, str]]:
    finder = Finder(clock_allowed=Path(filename).name in CLOCK_ALLOWED)
    finder.visit(ast.parse(source, filename))
    return sorted(finder.found)


def faults_under(root: Path) -> list[str]:
    return [f"{path.relative_to(root)}:{line}: {what}"
            for path in sorted(root.rglob("*.py")) if "artifacts" not in path.parts
            for line, what in timing_faults(path.read_text(), str(path))]


def test_no_test_module_asserts_a_duration_or_waits_on_a_short_fixed_timeout():
    faults = faults_under(TESTS)
    assert not faults, "timing in tests (see this module's docstring):\n" + "\n".join(faults)


def test_the_check_catches_what_broke_on_a_busy_machine():
    """The patterns of the 10 failures, each caught; event waits and grace periods pass."""
    caught = {
        "start = time.perf_counter()\nbuild()\nassert time.perf_counter() - start < 2.0\n":
            "asserts on a clock reading",
        "render_s = measure()\nassert render_s < 10\n": "an upper bound on a duration",
        "def f(took):\n    assert took < 5, f'cancel took {took:.1f}s'\n": "an upper bound on a duration",
        "assert 10 > result['wall_s']\n": "an upper bound on a duration",
        "asked = time.monotonic()\n": "reads a clock",
        "assert worker.wait(timeout=120) == 0\n": ".wait(timeout=<number>)",
        "out, err = second.communicate(timeout=120)\n": ".communicate(timeout=<number>)",
        "thread.join(timeout=60)\n": ".join(timeout=<number>)",
        "WebDriverWait(driver, 20).until(ready)\n": "WebDriverWait",
        "pytestmark = pytest.mark.timeout(300)\n": "pytest.mark.timeout",
        "subprocess.run(['x'], timeout=60)\n": "subprocess.run",
    }
    for source, expected in caught.items():
        faults = timing_faults(source)
        assert any(expected in what for _, what in faults), (source, faults)
    passes = [
        "wait_for(lambda: job()['status'] == 'cancelled', 'the cancel')\n",
        "assert wait_exit(worker) == 0\n",
        "try:\n    p.wait(timeout=15)\nexcept subprocess.TimeoutExpired:\n    p.kill()\n",  # a grace period
        "assert estimate['seconds'] > 0\n",  # a lower bound on an estimate is not a timing claim
        "assert settings.lease_s == 4.0\n",
        "text = 'assert render_s < 10'  # strings and comments do not count\n",
    ]
    for source in passes:
        assert timing_faults(source) == [], source
    assert timing_faults("start = time.monotonic()\n", "tests/helpers.py") == []  # the waits themselves
