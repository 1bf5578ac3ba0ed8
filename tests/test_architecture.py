"""The package's structure: layers that import only downward, no import circle, no private
names across modules, no imports hidden inside functions, small modules and functions, and no
pass that names a runtime helper by its spelling.

The layers, lowest first (a module may import from its own layer and the ones below):
errors, runtime, rules, transform, disk_cache, debug, pipeline, derivative (with
derivative_cache, arguments, notes), callables, higher, function_values, show/export, api,
check and cli, the library (util, loss, optim, nn, model), and the package itself.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

from .internals import NAMESPACE

ROOT = pathlib.Path(__file__).resolve().parent.parent / "sourcegrad"
LAYERS = [
    {"errors", "version", "gast_trees"},
    {"runtime"},
    {"rules"},
    {"transform"},
    {"disk_cache", "leaf_checks"},
    {"debug"},
    {"pipeline"},
    {"derivative_cache", "arguments", "notes", "outputs", "packing"},
    {"derivative"},
    {"callables", "kept"},
    {"higher"},
    {"function_values"},
    {"show", "export", "export_source", "export_text", "export_values", "export_runtime"}
    | {"export_keys", "export_objects", "export_receivers", "export_library", "export_writer"}
    | {"export_library_copy", "export_header", "export_format"},
    {"api"},
    {"check", "cli", "__main__"},
    {"util", "loss", "optim", "nn", "model", "parallel"},
    {"sourcegrad"},
]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def imported(module: str, node: ast.ImportFrom) -> str | None:
    if node.level == 0:
        return node.module
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def edges() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {m: set() for m in MODULES}
    for m, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = imported(m, node)
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if full in MODULES:
                        out[m].add(full)
                    elif target in MODULES:
                        out[m].add(target)
            elif isinstance(node, ast.Import):
                out[m] |= {a.name for a in node.names if a.name in MODULES}
    return out


def layer_of(module: str) -> int:
    parts = module.split(".")
    group = parts[1] if len(parts) > 1 else "sourcegrad"
    for i, layer in enumerate(LAYERS):
        if group in layer:
            return i
    raise AssertionError(f"{module} is in no layer: add its group to LAYERS")


def test_every_import_goes_down_or_stays_in_its_layer():
    wrong = [
        f"{m} imports {t}"
        for m, targets in edges().items()
        for t in targets
        if layer_of(t) > layer_of(m)
    ]
    assert not wrong, wrong


def test_no_import_circle():
    graph = edges()
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                raise AssertionError("import circle: " + " -> ".join(path + [m, t]))
            if t not in state:
                visit(t, path + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_shape(module):
    """No private name of another module, no sourcegrad import inside a function, no module
    or function too long to read."""
    source = MODULES[module].read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (imported(module, node) or "").startswith(
            "sourcegrad"
        ):
            private = [a.name for a in node.names if a.name.startswith("_") and a.name[1] != "_"]
            assert not private, f"{module}:{node.lineno} imports private {private}"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{node.name} has {length} lines"
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (imported(module, sub) or "").startswith(
                    "sourcegrad"
                ):
                    raise AssertionError(f"{module}:{sub.lineno} imports inside {node.name}")


#: transform modules allowed to spell a runtime helper's name as a string literal
HELPER_LITERALS_ALLOWED: frozenset = frozenset()


def helper_literals(source: str) -> list[str]:
    """Where ``source`` spells a runtime helper's name as a string literal: an index of the
    runtime namespace (``NAMESPACE["sum_to"]``), a comparison of a call's name with one
    (``f.id == "unreduce"``), a name list or a constructed name (``S.name("as_adjoint")``)."""
    found, indexes = [], set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "NAMESPACE"
            and isinstance(node.slice, ast.Constant)
        ):
            indexes.add(id(node.slice))
            found.append((node.lineno, f"NAMESPACE[{node.slice.value!r}]"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in NAMESPACE
            and id(node) not in indexes
        ):
            found.append((node.lineno, repr(node.value)))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def test_helper_literals_are_found():
    source = (
        "f = NAMESPACE['sum_to']\n"
        "ok = call.func.id == 'unreduce'\n"
        "names = {'np', 'gradient_like'}\n"
        "text = 'a sentence naming sum_to'\n"
    )
    assert helper_literals(source) == [
        "line 1: NAMESPACE['sum_to']",
        "line 2: 'unreduce'",
        "line 3: 'gradient_like'",
    ]


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.startswith("sourcegrad.transform"))
)
def test_transform_names_no_runtime_helper_by_string(module):
    """A pass reaches a runtime helper through the imported function (``refs.helper(sum_to)``,
    ``refs.is_call_of(call, sum_to)``), so a call is matched by identity, not by spelling."""
    if module in HELPER_LITERALS_ALLOWED:
        return
    found = helper_literals(MODULES[module].read_text())
    assert not found, f"{module} names runtime helpers by string: {found}"
