"""``sourcegrad show FILE.py:FUNC`` (or ``pkg.module:func``): print a derivative's source."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from .api import show as show_source
from .errors import SourcegradError


def _load(target: str):
    if ":" not in target:
        raise SourcegradError(f"expected FILE.py:FUNC or package.module:func, got {target!r}")
    where, _, func = target.rpartition(":")
    if where.endswith(".py") or os.path.sep in where:
        if not os.path.exists(where):
            raise SourcegradError(f"no such file: {where}")
        name = "_sourcegrad_target_" + os.path.splitext(os.path.basename(where))[0]
        spec = importlib.util.spec_from_file_location(name, where)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        sys.path.insert(0, os.path.dirname(os.path.abspath(where)))
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
        if line.lstrip().startswith("#"):
            out.append(f"\033[32m{line}\033[0m")
        elif line.startswith("def "):
            out.append(f"\033[1m{line}\033[0m")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _parser() -> argparse.ArgumentParser:
    """The command line: ``sourcegrad show TARGET [options]``."""
    parser = argparse.ArgumentParser(prog="sourcegrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the derivative of a function as Python source")
    show.add_argument("target", help="FILE.py:FUNC or package.module:func")
    show.add_argument(
        "--wrt", default="0", help="argument position(s) to differentiate, e.g. 0 or 0,1"
    )
    show.add_argument(
        "--args",
        default=None,
        metavar="EXPR",
        help="a Python expression, evaluated in the target's module, giving example arguments; "
        "the derivative is then specialised to their ranks (plain `@` instead of rank-generic "
        "helpers), exactly as it runs for such arguments",
    )
    show.add_argument(
        "--mode",
        choices=["reverse", "forward"],
        default="reverse",
        help="reverse: the gradient (default); forward: the Jacobian-vector product",
    )
    show.add_argument(
        "--order",
        type=int,
        default=1,
        help="2: the Hessian-vector product (forward mode over the gradient); 3 and up: "
        "forward mode applied again",
    )
    show.add_argument(
        "--optimize",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="print the code that runs (in-place updates, generated container builders) instead "
        "of the pure derivative, which is what is transformed again for higher orders",
    )
    show.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` by default); the exit status."""
    ns = _parser().parse_args(argv)
    try:
        module, fn = _load(ns.target)
        wrt = tuple(int(w) for w in ns.wrt.split(","))
        args = ()
        if ns.args:
            args = eval(ns.args, vars(module))  # noqa: S307 - the user's own expression
            if not isinstance(args, tuple):
                args = (args,)
        text = show_source(
            fn,
            wrt if len(wrt) > 1 else wrt[0],
            mode=ns.mode,
            args=args,
            order=ns.order,
            optimized=ns.optimize,
        )
    except SourcegradError as exc:
        print(f"sourcegrad: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, no traceback, for a bad target
        print(f"sourcegrad: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    colour = ns.color == "always" or (ns.color == "auto" and sys.stdout.isatty())
    sys.stdout.write(_colour(text) if colour else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
