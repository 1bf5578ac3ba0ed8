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
