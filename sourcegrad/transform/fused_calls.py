"""Which calls forward mode fuses with their jvp (``y, ty = jvp_f(x, t_in=tx)`` for ``y =
f(x)``): the primal and the jvp pass the same values, one run of ``f`` giving both."""

from __future__ import annotations

import gast

from . import syntax as S
from .derive import RECEIVER


def same_arguments(call: gast.Call, jvp: gast.Call, copied: str | None = None, callee=None) -> bool:
    """Whether ``call`` passes the names and constants that the jvp call ``jvp`` passes (by
    position, then by keyword, ``t_in`` aside; a method's object first). An argument given
    as ``copy_if_written(f, i, x)`` (``copied``: its name) counts as ``x``: the copy keeps
    the primal's write from the jvp's run, and fused there is one run (one with
    ``read_after``, which refuses a write, is kept around the jvp's argument:
    :func:`checked_arguments`).
    The constants a jvp passes after the call's own arguments are the defaults it left out;
    the keyword-only parameters of ``callee`` (the function called) it passes by position."""
    given_args = list(call.args)
    if isinstance(call.func, gast.Attribute) and isinstance(jvp.func, gast.Name):
        given_args.insert(0, call.func.value)  # a method's jvp takes its object first
    given = _atoms(copied, given_args + [k.value for k in call.keywords])
    passed = _atoms(copied, jvp.args + [k.value for k in jvp.keywords if k.arg != "t_in"])
    keywords = [k.arg for k in call.keywords]
    if given is None or passed is None or None in keywords:
        return False
    maker = jvp.func
    if isinstance(maker, gast.Call):  # jvp_of(fn, wrt[, names]): every argument by position
        if not (
            isinstance(call.func, gast.Name)
            and maker.args
            and isinstance(maker.args[0], gast.Name)
            and maker.args[0].id == call.func.id
        ):
            return False
        wrt = maker.args[1:2]
        if any(isinstance(n, gast.Constant) and n.value == RECEIVER for n in S.walk(wrt[0])):
            return False  # (an object called: its jvp is found for its class when it runs)
        names = maker.args[2].elts if len(maker.args) == 3 else []
        by_name = [getattr(n, "value", None) for n in names]  # the last ones, by these names
        return keywords in (by_name, [], ["g_out"]) and given == passed  # (g_out: a seed)
    if keywords != [k.arg for k in jvp.keywords][:-1] and not _keyword_only(callee, keywords):
        return False
    if len(passed) > len(given):  # the defaults the call leaves out
        tail = passed[len(given) :]
        return given == passed[: len(given)] and all(p[0] == "constant" for p in tail)
    return given == passed


def _keyword_only(callee, keywords: list) -> bool:
    """Whether ``keywords`` are keyword-only parameters of ``callee``, in their order."""
    code = getattr(callee, "__code__", None)
    if code is None or not code.co_kwonlyargcount:
        return False
    names = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    return all(k in names for k in keywords) and sorted(keywords, key=names.index) == keywords


def names_or_flat_tuple(target) -> bool:
    """A name, or a tuple of names (``a, b = f(x)``): a target a fused call may assign."""
    return isinstance(target, gast.Name) or (
        isinstance(target, gast.Tuple) and all(isinstance(e, gast.Name) for e in target.elts)
    )


def _atoms(copied: str | None, values) -> list | None:
    """The names and constants ``values`` are (a tuple of them too); None where one is
    something else. ``copy_if_written(f, i, x)`` (``copied``: its name) counts as ``x``."""
    out = []
    for v in values:
        if (
            isinstance(v, gast.Call)
            and isinstance(v.func, gast.Name)
            and v.func.id == copied
            and len(v.args) == 3
            and all(k.arg in ("differentiated", "read_after") for k in v.keywords)
        ):
            v = v.args[2]
        if isinstance(v, gast.Tuple):  # (a vjp's seed for a tuple: `(da, db)`)
            inner = _atoms(copied, v.elts)
            if inner is None:
                return None
            out.append(("tuple", tuple(inner)))
        elif isinstance(v, gast.Name):
            out.append(("name", v.id))
        elif isinstance(v, gast.Constant):
            out.append(("constant", type(v.value), v.value))
        else:
            return None
    return out


def checked_arguments(call: gast.Call, jvp: gast.Call, copied: str | None) -> gast.Call:
    """``jvp`` (a call :func:`same_arguments` matched with ``call``) with each argument that
    ``call`` gives as ``copy_if_written(f, i, x, read_after=True)`` given so too: the check
    that refuses a write Python would show the caller runs where the fused call runs."""
    offset = 1 if isinstance(call.func, gast.Attribute) and isinstance(jvp.func, gast.Name) else 0
    out = None
    for i, arg in enumerate(call.args):
        if (
            isinstance(arg, gast.Call)
            and isinstance(arg.func, gast.Name)
            and arg.func.id == copied
            and any(k.arg == "read_after" for k in arg.keywords)
            and i + offset < len(jvp.args)
        ):
            out = out or S.clone(jvp)
            out.args[i + offset] = S.clone(arg)
    return out or jvp
