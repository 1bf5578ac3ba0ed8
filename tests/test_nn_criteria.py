"""sourcegrad.nn criteria against torch.nn.functional: values and gradients (with respect to
the input and, where torch differentiates it, the target) agree to 1e-12 in float64, for
every reduction."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn

torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn")
TF = torch.nn.functional
TOL = dict(rtol=1e-12, atol=1e-12)
REDUCTIONS = ["mean", "sum", "none"]


def weighted_loss(criterion, input, target, w):
    """A scalar of a criterion's value, as a user would write it."""
    return np.sum(criterion(input, target) * w)


def compare(criterion, reference, input, target, target_grad=False):
    value = criterion(input, target)
    w = np.random.default_rng(1).standard_normal(np.shape(value))
    ti = torch.tensor(input, requires_grad=True)
    tt = torch.tensor(target, requires_grad=target_grad)
    t_value = reference(ti, tt, reduction=criterion.reduction)
    (t_value * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(value, t_value.detach().numpy(), **TOL)
    for _ in range(2):  # the second call runs the optimized derivative
        wrt = (1, 2) if target_grad else 1
        grads = sg.grad(weighted_loss, wrt)(criterion, input, target, w)
        di, dt = grads if target_grad else (grads, None)
        np.testing.assert_allclose(di, ti.grad.numpy(), **TOL)
        if target_grad:
            np.testing.assert_allclose(dt, tt.grad.numpy(), **TOL)


RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((5, 4))
LABELS = np.array([0, 3, 1, 1, 2])
PROBS = np.random.default_rng(2).dirichlet(np.ones(4), 5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse(reduction):
    compare(nn.MSELoss(reduction), TF.mse_loss, LOGITS, PROBS, target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_labels(reduction):
    compare(nn.CrossEntropyLoss(reduction), TF.cross_entropy, LOGITS, LABELS)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probabilities(reduction):
    compare(nn.CrossEntropyLoss(reduction), TF.cross_entropy, LOGITS, PROBS, target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_per_pixel(reduction):
    logits = RNG.standard_normal((2, 4, 3, 3))
    labels = RNG.integers(0, 4, (2, 3, 3))
    compare(nn.CrossEntropyLoss(reduction), TF.cross_entropy, logits, labels)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll(reduction):
    log_probs = LOGITS - np.log(np.sum(np.exp(LOGITS), axis=1, keepdims=True))
    compare(nn.NLLLoss(reduction), TF.nll_loss, log_probs, LABELS)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce(reduction):
    probs = 1.0 / (1.0 + np.exp(-LOGITS))
    targets = np.random.default_rng(3).uniform(size=LOGITS.shape)
    compare(nn.BCELoss(reduction), TF.binary_cross_entropy, probs, targets, target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    logits = 4.0 * LOGITS
    logits[0, 0], logits[1, 1] = 60.0, -60.0  # saturated: no overflow
    targets = np.random.default_rng(3).uniform(size=LOGITS.shape)
    reference = TF.binary_cross_entropy_with_logits
    compare(nn.BCEWithLogitsLoss(reduction), reference, logits, targets, target_grad=True)


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("average")


CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])
LABELS_IGNORED = np.array([0, -100, 3, 1, 2])
SPATIAL_LOGITS = RNG.standard_normal((2, 4, 3, 2))
SPATIAL_LABELS = np.random.default_rng(4).integers(0, 4, (2, 3, 2))
SPATIAL_LABELS[0, 1, 1] = 7  # ignored below


def _with(reference, **options):
    """``reference`` with PyTorch's keyword options fixed (class weights as tensors)."""
    if "weight" in options:
        options = dict(options, weight=torch.tensor(options["weight"]))

    def run(input, target, reduction):
        return reference(input, target, reduction=reduction, **options)

    return run


CE_OPTIONS = [
    dict(weight=CLASS_WEIGHT),
    dict(label_smoothing=0.2),
    dict(weight=CLASS_WEIGHT, label_smoothing=0.1),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS + [dict(weight=CLASS_WEIGHT, ignore_index=-100)])
@pytest.mark.parametrize("labels", [LABELS, LABELS_IGNORED], ids=["all", "ignored"])
def test_cross_entropy_options_with_labels(reduction, options, labels):
    criterion = nn.CrossEntropyLoss(reduction, **options)
    compare(criterion, _with(TF.cross_entropy, **options), LOGITS, labels)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS)
def test_cross_entropy_options_with_probabilities(reduction, options):
    criterion = nn.CrossEntropyLoss(reduction, **options)
    reference = _with(TF.cross_entropy, **options)
    compare(criterion, reference, LOGITS, PROBS, target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options",
    [dict(ignore_index=7), dict(weight=CLASS_WEIGHT, ignore_index=7, label_smoothing=0.3)],
)
def test_cross_entropy_options_spatial(reduction, options):
    criterion = nn.CrossEntropyLoss(reduction, **options)
    compare(criterion, _with(TF.cross_entropy, **options), SPATIAL_LOGITS, SPATIAL_LABELS)


NLL_CASES = [
    (dict(weight=CLASS_WEIGHT), LABELS),
    (dict(ignore_index=-100), LABELS_IGNORED),
    (dict(weight=CLASS_WEIGHT, ignore_index=3), LABELS),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options, labels", NLL_CASES)
def test_nll_options(reduction, options, labels):
    logp = torch.log_softmax(torch.tensor(LOGITS), 1).numpy()
    criterion = nn.NLLLoss(reduction, **options)
    compare(criterion, _with(TF.nll_loss, **options), logp, labels)


def test_criteria_refuse_bad_options():
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_every_sample_ignored_gives_nan_as_torch():
    labels = np.full(5, -100)
    value = nn.CrossEntropyLoss()(LOGITS, labels)
    reference = TF.cross_entropy(torch.tensor(LOGITS), torch.tensor(labels)).item()
    assert np.isnan(value) and np.isnan(reference)
