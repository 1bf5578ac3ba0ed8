"""The statements a differentiated function may not hold, each with the cause and the way out
its refusal gives (read by :mod:`.lower_statements`)."""

from __future__ import annotations

import gast

#: the refusal of ``try``/``finally``
FINALLY = (
    "`try`/`finally` in a differentiated function: sourcegrad does not follow what runs while "
    "an exception leaves the function; write the body, then the `finally` statements after it "
    "(as they run where the body does not raise), or put the `try` in the caller, around the "
    "derivative's call"
)
#: statement class -> why it is refused, and the way out
REFUSED_STATEMENTS = {
    gast.Break: "`break` outside a loop",
    gast.Continue: "`continue` outside a loop",
    gast.Try: "`try`/`except` in a differentiated function: sourcegrad differentiates the "
    "statements that run, and whether the handler runs is known only when the body raises; "
    "test for the failure first and choose with `if` (`if np.all(np.linalg.eigvalsh(A) > "
    "0):` before `np.linalg.cholesky(A)`), or catch the exception in the caller, around the "
    "derivative's call (`try: g = df(x)` / `except np.linalg.LinAlgError: ...`)",
    gast.With: "`with` is not supported in a differentiated function; move the context "
    "manager to the caller",
    gast.Global: "`global` is not supported; pass the value as an argument instead",
    gast.Nonlocal: "`nonlocal` is not supported; pass the value as an argument instead",
    gast.Delete: "`del` is not supported in a differentiated function; drop the statement "
    "(`del h`: a name's value is freed when the function returns), or take items out with "
    "`d.pop(k)` (a dict), a new list (`xs = xs[:i] + xs[j:]`) or a new array "
    "(`np.delete(y, k)`)",
    gast.AsyncFunctionDef: "async functions cannot be differentiated",
    gast.ClassDef: "class definitions are not supported inside a differentiated function",
    gast.Import: "imports inside a differentiated function are not supported; import at "
    "module level",
    gast.ImportFrom: "imports inside a differentiated function are not supported; import at "
    "module level",
}
