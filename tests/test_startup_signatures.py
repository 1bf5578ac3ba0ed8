"""The parameters of NumPy's functions as the optimize pass reads them
(``sourcegrad.transform.signatures``, without ``inspect``'s tokenizer): the same names, kinds
and order as ``inspect.signature`` for every NumPy function and ufunc method that has a text
signature, and the same answer where none can be read."""

import inspect
import warnings

import numpy as np
import pytest

from sourcegrad.transform.signatures import parameters


def _with_text_signatures():
    found = {}
    for module in (np, np.linalg, np.fft, np.random):
        for name in dir(module):
            with warnings.catch_warnings():  # deprecated attributes warn when read
                warnings.simplefilter("ignore")
                fn = getattr(module, name, None)
                methods = [getattr(fn, m, None) for m in ("reduce", "accumulate", "outer")]
            for f in [fn] + methods:
                text = getattr(f, "__text_signature__", None)
                if isinstance(text, str):
                    found[f"{module.__name__}.{name}:{getattr(f, '__name__', '')}"] = f
    return found


CALLABLES = _with_text_signatures()


def _inspected(fn):
    try:
        return tuple((p.name, p.kind) for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None


def test_numpy_has_text_signatures_to_read():
    """The fast path is exercised: np.zeros and np.empty have text signatures."""
    assert np.zeros.__text_signature__ and np.empty.__text_signature__
    assert len(CALLABLES) >= 20


@pytest.mark.parametrize("key", sorted(CALLABLES))
def test_parameters_agree_with_inspect(key):
    fn = CALLABLES[key]
    assert parameters(fn) == _inspected(fn)


@pytest.mark.parametrize(
    "fn", [np.full, np.ones, np.dot, np.einsum, np.add, np.zeros_like, "zeros", None, 3]
)
def test_parameters_of_other_callables_agree_with_inspect(fn):
    """Python functions, dispatchers, ufuncs and things that are not callables."""
    assert parameters(fn) == _inspected(fn)
