"""How Python syntax and ndarray methods map onto rule keys."""

import gast
import numpy as np

#: binary operator -> the NumPy function whose rule differentiates it
BINOPS = {
    gast.Add: np.add,
    gast.Sub: np.subtract,
    gast.Mult: np.multiply,
    gast.Div: np.true_divide,
    gast.Pow: np.power,
    gast.MatMult: np.matmul,
    gast.FloorDiv: "floordiv",
    gast.Mod: "mod",
}

UNARYOPS = {gast.USub: np.negative, gast.UAdd: np.positive, gast.Not: "not", gast.Invert: "invert"}

#: ndarray method -> (rule key, whether positional arguments form one tuple argument)
METHODS = {
    "sum": (np.sum, False),
    "mean": (np.mean, False),
    "prod": (np.prod, False),
    "max": (np.max, False),
    "min": (np.min, False),
    "var": (np.var, False),
    "std": (np.std, False),
    "cumsum": (np.cumsum, False),
    "cumprod": (np.cumprod, False),
    "diagonal": (np.diagonal, False),
    "trace": (np.trace, False),
    "dot": (np.dot, False),
    "transpose": (np.transpose, True),
    "reshape": (np.reshape, True),
    "ravel": (np.ravel, False),
    "flatten": (np.ravel, False),
    "squeeze": (np.squeeze, False),
    "swapaxes": (np.swapaxes, False),
    "clip": (np.clip, False),
    "copy": ("copy", False),
    "astype": ("astype", False),
    "item": ("item", False),
    "take": (np.take, False),
    "repeat": (np.repeat, False),
    "argmax": (np.argmax, False),
    "argmin": (np.argmin, False),
    "argsort": (np.argsort, False),
    "round": (np.round, False),
    "any": (np.any, False),
    "all": (np.all, False),
    "nonzero": (np.nonzero, False),
    "conj": (np.conj, False),
    "conjugate": (np.conj, False),
    "tolist": ("tolist", False),
    # a dict's methods
    "items": ("dict_items", False),
    "values": ("dict_values", False),
    "keys": ("dict_keys", False),
    "get": ("dict_get", False),
}

#: array attribute -> rule key
ATTRIBUTES = {
    "T": "T",
    "shape": "shape",
    "ndim": "ndim",
    "size": "size",
    "dtype": "dtype",
    "real": np.real,
    "imag": np.imag,
}


#: objects subscripted to make an array of the items of the index: ``np.r_[x, y]``
_JOINERS = (np.r_, np.c_)


def subscript_key(obj) -> str:
    """The rule key of ``obj[index]``, given the object ``obj`` resolves to at transform time
    (anything else where it is a local value): ``"join_index"`` for ``np.r_`` and ``np.c_``,
    whose value joins the index's items (which are then differentiated), else ``"getitem"``."""
    return "join_index" if any(obj is j for j in _JOINERS) else "getitem"
