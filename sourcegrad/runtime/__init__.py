"""What generated code calls. Nothing here imports from ``sourcegrad.transform``."""

from . import (
    argument_writes,
    array_helpers,
    containers,
    convolution_helpers,
    cumulative_helpers,
    determinant_helpers,
    helpers,
    interpolation_helpers,
    least_squares_helpers,
    linalg_helpers,
    matrix_exponential_helpers,
    object_state,
    padding_helpers,
    products,
    python_helpers,
    shape_helpers,
    statistics_helpers,
    tangent_helpers,
    trees,
    triangular_helpers,
)

#: every helper a rule template may name, by that name
NAMESPACE = {}
_MODULES = (
    helpers,
    containers,
    linalg_helpers,
    shape_helpers,
    tangent_helpers,
    trees,
    array_helpers,
    products,
    python_helpers,
    triangular_helpers,
    statistics_helpers,
    convolution_helpers,
    cumulative_helpers,
    determinant_helpers,
    interpolation_helpers,
    least_squares_helpers,
    padding_helpers,
    matrix_exponential_helpers,
    argument_writes,
    object_state,
)
for _module in _MODULES:
    for _name in getattr(_module, "__all__", None) or dir(_module):
        _obj = getattr(_module, _name)
        if (
            callable(_obj)
            and not _name.startswith("_")
            and getattr(_obj, "__module__", "") == _module.__name__
        ):
            NAMESPACE[_name] = _obj
NAMESPACE["sum_to"] = helpers.sum_to
