"""The ``sourcegrad`` command: review a derivative's source, compare two versions, export it.

  sourcegrad show FILE.py:FUNC [--args EXPR]      the derivative and every helper vjp it calls
  sourcegrad diff OLD.py NEW.py:FUNC [--args ...]  how the derivative changed between versions
  sourcegrad export FILE.py:FUNC --args EXPR [-o out.py]   a standalone module, NumPy only

A target is FILE.py:FUNC or package.module:func (a method as Class.method).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import os
import sys

from .api import export as export_module
from .api import grad
from .api import show as show_source
from .debug import dot_source
from .errors import SourcegradError
from .show import diff_source


def _load(target: str):
    """``(module, object)`` that ``target`` (FILE.py:FUNC or package.module:func) names."""
    if ":" not in target:
        raise SourcegradError(f"expected FILE.py:FUNC or package.module:func, got {target!r}")
    where, _, func = target.rpartition(":")
    if where.endswith(".py") or os.path.sep in where:
        if not os.path.exists(where):
            raise SourcegradError(f"no such file: {where}")
        path = os.path.abspath(where)
        # one module per file: two versions of a file (diff) are two modules
        digest = hashlib.sha256(path.encode()).hexdigest()[:12]
        stem = os.path.splitext(os.path.basename(where))[0]
        name = f"_sourcegrad_target_{stem}_{digest}"
        spec = importlib.util.spec_from_file_location(name, where)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        sys.path.insert(0, os.path.dirname(path))
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    obj = module
    for part in func.split("."):
        if not hasattr(obj, part):
            raise SourcegradError(f"{where} has no attribute {func!r}")
        obj = getattr(obj, part)
    return module, obj


def _colour(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            out.append(f"\033[1m{line}\033[0m")
        elif line.startswith("+"):
            out.append(f"\033[32m{line}\033[0m")
        elif line.startswith("-"):
            out.append(f"\033[31m{line}\033[0m")
        elif line.lstrip().startswith("#"):
            out.append(f"\033[32m{line}\033[0m")
        elif line.startswith("def "):
            out.append(f"\033[1m{line}\033[0m")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _derivative_options(parser: argparse.ArgumentParser, args_required: bool = False) -> None:
    """The options that say which derivative: ``--wrt``, ``--args``, ``--mode``, ``--order``."""
    parser.add_argument(
        "--wrt", default="0", help="argument position(s) to differentiate, e.g. 0 or 0,1"
    )
    parser.add_argument(
        "--args",
        default=None,
        required=args_required,
        metavar="EXPR",
        help="a Python expression, evaluated in the target's module, giving example arguments; "
        "the derivative is then specialised to their ranks (plain `@` instead of rank-generic "
        "helpers), exactly as it runs for such arguments",
    )
    parser.add_argument(
        "--mode",
        choices=["reverse", "forward"],
        default="reverse",
        help="reverse: the gradient (default); forward: the Jacobian-vector product",
    )
    parser.add_argument(
        "--order",
        type=int,
        default=1,
        help="2: the Hessian-vector product (forward mode over the gradient); 3 and up: "
        "forward mode applied again",
    )


def _shown(parser: argparse.ArgumentParser) -> None:
    """The options of what ``show`` and ``diff`` print."""
    _derivative_options(parser)
    parser.add_argument(
        "--optimize",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="print the code that runs (in-place updates, generated container builders) instead "
        "of the pure derivative, which is what is transformed again for higher orders",
    )
    parser.add_argument(
        "--callees",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the derivative, print every generated function it calls (the vjps of your "
        "helpers and methods), each headed by the function and file:line it differentiates "
        "(default); --no-callees prints the main one only",
    )
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto")


def _parser() -> argparse.ArgumentParser:
    """The command line: ``sourcegrad show|diff|export ...``."""
    parser = argparse.ArgumentParser(
        prog="sourcegrad", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser(
        "show",
        help="print the derivative of a function as Python source, with the helpers' vjps",
        description="Print the derivative of FUNC as Python source, then every generated "
        "function it calls. An array-valued FUNC is shown as its vjp (with g_out) when --args "
        "are given; --order 2 and up cite your file:line in their comments.",
    )
    show.add_argument("target", help="FILE.py:FUNC or package.module:func")
    _shown(show)
    show.add_argument(
        "--dot",
        action="store_true",
        help="print the computation as a DOT graph (forward and adjoint nodes, with the shapes "
        "of one run at --args) instead of source; render it with `dot -Tsvg`",
    )
    diff = sub.add_parser(
        "diff",
        help="a unified diff of the derivative of FUNC in two versions of a file",
        description="Print how the derivative of FUNC changed from OLD to NEW (a unified diff "
        "of the source `show` prints for each; nothing when it is the same), for reviewing a "
        "change: e.g. `git show HEAD~1:model.py > /tmp/old.py; sourcegrad diff /tmp/old.py "
        "model.py:loss --args 'example_args()'`. --args is evaluated in each version's module.",
    )
    diff.add_argument("old", help="OLD.py (or OLD.py:FUNC2 where the function had another name)")
    diff.add_argument("target", help="NEW.py:FUNC (or package.module:func)")
    _shown(diff)
    export = sub.add_parser(
        "export",
        help="write the derivative as a standalone module that needs only NumPy",
        description="Write a module with one function, d_FUNC, that returns (value, gradient) "
        "as sourcegrad.value_and_grad does (forward mode: (value, tangent) as sourcegrad.jvp), "
        "bit for bit, for arguments like --args (--order 2: d_FUNC(*args, v) returns the "
        "Hessian-vector product, as sourcegrad.hvp): the code sourcegrad runs for them, with your "
        "helpers' derivatives (at every order), the vjps of the function values it calls and "
        "the runtime helpers as source. It imports only NumPy (or CuPy) and the standard "
        "library.",
    )
    export.add_argument("target", help="FILE.py:FUNC or package.module:func")
    _derivative_options(export, args_required=True)
    export.add_argument(
        "-o", "--output", default=None, metavar="OUT.py", help="the file to write (default: stdout)"
    )
    return parser


def _example_args(module, expr: str | None) -> tuple:
    if not expr:
        return ()
    args = eval(expr, vars(module))  # noqa: S307 - the user's own expression
    return args if isinstance(args, tuple) else (args,)


def _wrt(ns) -> int | tuple:
    wrt = tuple(int(w) for w in ns.wrt.split(","))
    return wrt if len(wrt) > 1 else wrt[0]


def _show(ns, target: str) -> str:
    module, fn = _load(target)
    return show_source(
        fn,
        _wrt(ns),
        mode=ns.mode,
        args=_example_args(module, ns.args),
        order=ns.order,
        optimized=ns.optimize,
        callees=ns.callees,
    )


def _run(ns) -> str:
    """What the command ``ns`` prints."""
    if ns.command == "show" and ns.dot:
        module, fn = _load(ns.target)
        return dot_source(grad(fn, _wrt(ns)), *_example_args(module, ns.args))
    if ns.command == "show":
        return _show(ns, ns.target)
    if ns.command == "diff":
        func = ns.target.rpartition(":")[2]
        old = ns.old if ":" in ns.old and not os.path.exists(ns.old) else f"{ns.old}:{func}"
        # the callees' headers name their file: the same for both versions
        old_base = os.path.basename(old.rpartition(":")[0])
        new_base = os.path.basename(ns.target.rpartition(":")[0])
        old_text = _show(ns, old).replace(f", {old_base}:", f", {new_base}:")
        return diff_source(old_text, _show(ns, ns.target), old, ns.target)
    module, fn = _load(ns.target)
    text = export_module(
        fn,
        *_example_args(module, ns.args),
        path=ns.output,
        wrt=_wrt(ns),
        mode=ns.mode,
        order=ns.order,
    )
    return "" if ns.output else text


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` by default); the exit status."""
    ns = _parser().parse_args(argv)
    try:
        text = _run(ns)
    except SourcegradError as exc:
        print(f"sourcegrad: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, no traceback, for a bad target
        print(f"sourcegrad: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    colour = getattr(ns, "color", "never") == "always" or (
        getattr(ns, "color", "never") == "auto" and sys.stdout.isatty()
    )
    sys.stdout.write(_colour(text) if colour else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
