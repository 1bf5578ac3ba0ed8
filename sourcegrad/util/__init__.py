"""Utilities for training with sourcegrad: trees of parameters, a tree as one vector (for
``scipy.optimize``), stable functions to call inside differentiated losses, and saving.

* trees (:mod:`.tree`): ``tree_map``, ``tree_leaves``, ``tree_leaves_with_paths``,
  ``tree_structure``, ``tree_flatten``/``tree_unflatten``, ``copy_into``, ``cast``,
  ``array_module``, ``to_module_of``;
* vectors (:mod:`.flat`): ``ravel``, ``flat_objective``;
* functions (:mod:`.functions`), differentiable by sourcegrad to any order: ``log_sum_exp``,
  ``log_softmax``, ``softmax``, ``sigmoid``, ``log_sigmoid``, ``softplus``, ``cat``,
  ``stop_gradient``; and ``one_hot`` for labels;
* saving (:mod:`.saving`): ``save``, ``load`` (``.npz``, atomic writes, no pickle).
"""

from .flat import Unravel, flat_objective, ravel
from .functions import (
    cat,
    log_sigmoid,
    log_softmax,
    log_sum_exp,
    max_shift,
    one_hot,
    sigmoid,
    softmax,
    softplus,
    stop_gradient,
)
from .saving import CheckpointError, load, save
from .tree import (
    TreeDef,
    TreeStructureError,
    array_module,
    cast,
    copy_into,
    is_static_leaf,
    path_text,
    to_module_of,
    tree_flatten,
    tree_leaves,
    tree_leaves_with_paths,
    tree_map,
    tree_structure,
    tree_unflatten,
)

__all__ = [
    "CheckpointError", "TreeDef", "TreeStructureError", "Unravel", "array_module", "cast",
    "cat", "copy_into", "flat_objective", "is_static_leaf", "load", "log_sigmoid",
    "log_softmax", "log_sum_exp", "max_shift", "one_hot", "path_text", "ravel", "save",
    "sigmoid", "softmax", "softplus", "stop_gradient", "to_module_of", "tree_flatten", "tree_leaves",
    "tree_leaves_with_paths", "tree_map", "tree_structure", "tree_unflatten",
]  # fmt: skip
