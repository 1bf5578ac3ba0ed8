"""No wasted work at order 2 (issue 17): forward mode over a gradient that calls a function
value runs forward mode over the value's vjp (``jvp_of(dh_2_1, ...)(...)[1]``) and not the
vjp's own call (``dh_2 = dh_2_1(h_2, g_out=dh)``) where only the tangent is read: a call of
what ``vjp_of`` / ``jvp_of`` returned has no effect but its result, so an unused one goes.
Read in the shown order-2 code and in the export's running code: no call of a derivative (a
``g_out`` or ``t_in`` seed) whose result nothing reads."""

import ast

import pytest

import sourcegrad as sg

from . import export_value_cases as v

CASES = [(v.lambda_loss, v.dict_args), (v.keyword_loss, v.dict_args), (v.star_loss, v.dict_args)]


def _seeded_call(node) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and any(k.arg in ("g_out", "t_in") for k in node.keywords)
    )


def unused_derivative_calls(text: str) -> list[str]:
    """The statements of ``text`` that call a derivative function value and whose result no
    statement of the same function reads."""
    found = []
    for fn in ast.walk(ast.parse(text)):
        if not isinstance(fn, ast.FunctionDef):
            continue
        loads = {
            n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        for stmt in ast.walk(fn):
            if isinstance(stmt, ast.Expr) and _seeded_call(stmt.value):
                found.append(ast.unparse(stmt))
            elif isinstance(stmt, ast.Assign) and _seeded_call(stmt.value):
                names = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
                if names and not names & loads:
                    found.append(ast.unparse(stmt))
    return found


def test_the_finder_finds_an_unused_call():
    text = "def f(a, g):\n    d = vjp_of(a, 0)\n    x = d(a, g_out=g)\n    d(a, g_out=g)\n    return 1\n"
    assert unused_derivative_calls(text) == ["x = d(a, g_out=g)", "d(a, g_out=g)"]


@pytest.mark.parametrize("f, make", CASES, ids=[f.__name__ for f, _ in CASES])
def test_the_shown_order_2_code_calls_no_vjp_it_does_not_read(f, make):
    assert unused_derivative_calls(sg.show(f, order=2, args=make())) == []


@pytest.mark.parametrize("f, make", CASES, ids=[f.__name__ for f, _ in CASES])
def test_the_exported_order_2_code_calls_no_vjp_it_does_not_read(f, make):
    text = sg.export(f, *make(), order=2)
    assert unused_derivative_calls(text) == []
