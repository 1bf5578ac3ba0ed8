"""sourcegrad.loss: values against PyTorch, derivatives to second order by sourcegrad."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.loss as L
from sourcegrad import util


def ce_model(p, x, labels):
    return L.cross_entropy(x @ p["W"] + p["b"], labels)


def ce_sum_model(p, x, labels):
    return L.cross_entropy(x @ p["W"] + p["b"], labels, reduction="sum")


def ce_onehot_model(p, x, labels):
    return L.cross_entropy(x @ p["W"] + p["b"], util.one_hot(labels, 4))


def ce_axis0_model(p, x, labels):
    return L.cross_entropy((x @ p["W"] + p["b"]).T, labels, axis=0)


def bce_model(p, x, targets):
    return L.binary_cross_entropy(x @ p["W"] + p["b"], targets)


def ls_model(p, x, targets):
    return L.least_squares(np.tanh(x @ p["W"] + p["b"]), targets, reduction="sum")


def ls_none_model(p, x, targets):
    per = L.least_squares(x @ p["W"] + p["b"], targets, reduction="none")
    return np.sum(per * per)


@pytest.fixture
def problem():
    rng = np.random.default_rng(5)
    p = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    x = rng.standard_normal((6, 3))
    labels = rng.integers(0, 4, 6)
    return p, x, labels, rng


@pytest.mark.parametrize("model", [ce_model, ce_sum_model, ce_onehot_model, ce_axis0_model])
def test_cross_entropy_gradcheck_second_order(problem, model):
    p, x, labels, _ = problem
    assert sg.gradcheck(model, p, x, labels, order=2)


@pytest.mark.parametrize("model", [bce_model, ls_model, ls_none_model])
def test_other_losses_gradcheck_second_order(problem, model):
    p, x, _, rng = problem
    targets = rng.uniform(0.0, 1.0, (6, 4))
    assert sg.gradcheck(model, p, x, targets, order=2)


def test_cross_entropy_values(problem):
    _, _, labels, rng = problem
    logits = 5.0 * rng.standard_normal((6, 4))
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    expected = -logp[np.arange(6), labels]
    np.testing.assert_allclose(L.cross_entropy(logits, labels, reduction="none"), expected)
    np.testing.assert_allclose(L.cross_entropy(logits, labels), expected.mean())
    np.testing.assert_allclose(L.cross_entropy(logits, labels, reduction="sum"), expected.sum())
    # one-hot rows and log-probabilities as input give the same losses
    np.testing.assert_allclose(L.cross_entropy(logits, util.one_hot(labels, 4)), expected.mean())
    np.testing.assert_allclose(L.cross_entropy(logp, labels), expected.mean())
    with pytest.raises(ValueError, match="reduction"):
        L.cross_entropy(logits, labels, reduction="average")


def test_losses_keep_float32(problem):
    _, _, labels, rng = problem
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    assert L.cross_entropy(logits, labels).dtype == np.float32
    assert L.binary_cross_entropy(logits, np.ones_like(logits)).dtype == np.float32
    assert L.least_squares(logits, np.zeros_like(logits)).dtype == np.float32


def test_binary_cross_entropy_is_stable():
    logits = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    targets = np.array([0.0, 1.0, 0.5, 0.0, 1.0])
    losses = L.binary_cross_entropy(logits, targets, reduction="none")
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses, [0.0, 40.0, np.log(2.0), 40.0, 0.0], atol=1e-15)


def summed_ce(logits, labels, reduction, options):
    return np.sum(L.cross_entropy(logits, labels, reduction=reduction, **options))


class TestAgainstTorch:
    torch = pytest.importorskip("torch")

    def test_cross_entropy(self, problem):
        F = self.torch.nn.functional
        _, _, labels, rng = problem
        logits = 4.0 * rng.standard_normal((6, 4))
        t_logits, t_labels = self.torch.tensor(logits), self.torch.tensor(labels)
        for reduction in ("mean", "sum", "none"):
            expected = F.cross_entropy(t_logits, t_labels, reduction=reduction).numpy()
            got = L.cross_entropy(logits, labels, reduction=reduction)
            np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
        probs = rng.dirichlet(np.ones(4), 6)
        expected = F.cross_entropy(t_logits, self.torch.tensor(probs)).numpy()
        np.testing.assert_allclose(L.cross_entropy(logits, probs), expected, rtol=1e-13)

    def test_cross_entropy_with_classes_on_another_axis(self, problem):
        F = self.torch.nn.functional
        _, _, _, rng = problem
        logits = rng.standard_normal((2, 4, 5))  # (N, C, d) in PyTorch's layout
        labels = rng.integers(0, 4, (2, 5))
        expected = F.cross_entropy(self.torch.tensor(logits), self.torch.tensor(labels))
        got = L.cross_entropy(logits, labels, axis=1)
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-13)

    @pytest.mark.parametrize(
        "options",
        [
            {"weight": True},
            {"ignore_index": 2},
            {"label_smoothing": 0.2},
            {"weight": True, "label_smoothing": 0.1},
        ],
    )
    def test_cross_entropy_options_with_classes_last(self, problem, options):
        """Values and gradients equal PyTorch's (classes on axis 1) for classes on the last
        axis, with PyTorch's options."""
        F = self.torch.nn.functional
        _, _, _, rng = problem
        logits = 3.0 * rng.standard_normal((3, 5, 4))
        labels = rng.integers(0, 4, (3, 5))
        if options.get("weight"):
            options = {**options, "weight": rng.uniform(0.5, 2.0, 4)}
        t_options = {k: self.torch.tensor(v) if k == "weight" else v for k, v in options.items()}
        t_logits = self.torch.tensor(np.moveaxis(logits, -1, 1), requires_grad=True)
        for reduction in ("mean", "sum", "none"):
            expected = F.cross_entropy(
                t_logits, self.torch.tensor(labels), reduction=reduction, **t_options
            )
            got, grad = sg.value_and_grad(summed_ce)(logits, labels, reduction, options)
            np.testing.assert_allclose(got, expected.sum().item(), rtol=1e-12)
            (t_grad,) = self.torch.autograd.grad(expected.sum(), t_logits)
            np.testing.assert_allclose(grad, np.moveaxis(t_grad.numpy(), 1, -1), atol=1e-12)

    def test_binary_cross_entropy_and_least_squares(self, problem):
        F = self.torch.nn.functional
        _, _, _, rng = problem
        logits = 10.0 * rng.standard_normal((6, 4))
        targets = rng.uniform(0.0, 1.0, (6, 4))
        tl, tt = self.torch.tensor(logits), self.torch.tensor(targets)
        for reduction in ("mean", "sum", "none"):
            expected = F.binary_cross_entropy_with_logits(tl, tt, reduction=reduction)
            got = L.binary_cross_entropy(logits, targets, reduction=reduction)
            np.testing.assert_allclose(got, expected.numpy(), rtol=1e-13, atol=1e-15)
            expected = F.mse_loss(tl, tt, reduction=reduction)
            got = L.least_squares(logits, targets, reduction=reduction)
            np.testing.assert_allclose(got, expected.numpy(), rtol=1e-13)

    def test_gradients_match_torch(self, problem):
        p, x, labels, _ = problem
        g = sg.grad(ce_model)(p, x, labels)
        tW = self.torch.tensor(p["W"], requires_grad=True)
        tb = self.torch.tensor(p["b"], requires_grad=True)
        out = self.torch.nn.functional.cross_entropy(
            self.torch.tensor(x) @ tW + tb, self.torch.tensor(labels)
        )
        out.backward()
        np.testing.assert_allclose(g["W"], tW.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g["b"], tb.grad.numpy(), rtol=1e-12, atol=1e-15)


def ce_options_model(p, x, labels, weight):
    """Classes on the last axis of a (N, d, C) batch, PyTorch's options, keyword arguments."""
    logits = np.tanh(x @ p["W"] + p["b"]).reshape(2, 3, 4)
    return L.cross_entropy(
        labels=labels, logits=logits, weight=weight, ignore_index=1, label_smoothing=0.1
    )


def test_cross_entropy_options_gradcheck_second_order(problem):
    p, x, labels, rng = problem
    weight = rng.uniform(0.5, 2.0, 4)
    assert sg.gradcheck(ce_options_model, p, x, labels.reshape(2, 3), weight, order=2)


def test_cross_entropy_is_the_nn_implementation():
    """``loss.cross_entropy`` is ``nn.functional.cross_entropy`` with the class axis last by
    default: the same values, and derivatives from the same rules."""
    rng = np.random.default_rng(2)
    logits, labels = rng.standard_normal((4, 3, 5)), rng.integers(0, 5, (4, 3))
    F = sg.nn.functional
    kwargs = {"weight": rng.uniform(0.5, 2.0, 5), "ignore_index": 0, "label_smoothing": 0.3}
    moved = np.moveaxis(logits, -1, 1)
    for reduction in ("mean", "sum", "none"):
        want = F.cross_entropy(moved, labels, reduction, **kwargs)
        np.testing.assert_array_equal(
            L.cross_entropy(logits, labels, -1, reduction, **kwargs), want
        )
        np.testing.assert_array_equal(
            F.cross_entropy(logits, labels, reduction, axis=-1, **kwargs), want
        )

    def through_loss(z, options):
        return L.cross_entropy(z, labels, -1, "mean", **options)

    def through_nn(z, options):
        return F.cross_entropy(z, labels, "mean", axis=-1, **options)

    want = sg.grad(through_nn)(logits, kwargs)
    np.testing.assert_array_equal(sg.grad(through_loss)(logits, kwargs), want)
    show = sg.source(sg.grad(through_loss), logits, kwargs)
    assert "nll_loss_grad(" in show and "vjp" not in show  # the rule inlined, no wrapper call


def test_nn_losses_refuse_an_unknown_reduction():
    F = sg.nn.functional
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), "average")
    for loss in (F.mse_loss, F.bce_loss, F.bce_with_logits_loss):
        with pytest.raises(ValueError, match="reduction"):
            loss(np.full(3, 0.5), np.full(3, 0.25), "average")


def soft_target_model(q, logits):
    """Cross-entropy differentiated in its probability targets (distillation)."""
    return L.cross_entropy(logits, util.softmax(q))


def bce_target_model(t, logits):
    return L.binary_cross_entropy(logits, t, reduction="sum")


def ls_target_model(t, pred):
    return L.least_squares(pred, t)


@pytest.mark.parametrize("model", [soft_target_model, bce_target_model, ls_target_model])
def test_targets_are_differentiated_too(problem, model):
    _, _, _, rng = problem
    assert sg.gradcheck(model, rng.uniform(0.1, 0.9, (6, 4)), rng.standard_normal((6, 4)), order=2)


def test_third_order_through_a_loss():
    def f(w):
        return L.cross_entropy(np.stack([w, -w, 0.5 * w]), np.array(1))

    d3 = sg.grad(sg.grad(sg.grad(f)))(0.3)
    eps = 1e-4
    d2 = sg.grad(sg.grad(f))
    np.testing.assert_allclose(d3, (d2(0.3 + eps) - d2(0.3 - eps)) / (2 * eps), rtol=1e-6)


def test_rules_are_shared_only_between_matching_parameters():
    from sourcegrad.nn.rule_alias import share_rules

    def other(logits, labels, axis=-1):  # lacks `reduction` and the options
        return logits

    with pytest.raises(sg.SourcegradError, match="cannot share the rules"):
        share_rules(other, sg.nn.functional.cross_entropy, logits="input", labels="target")


def test_cross_entropy_takes_labels_as_a_list():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    want = L.cross_entropy(logits, np.array([0, 2]))
    assert L.cross_entropy(logits, [0, 2]) == want
    assert L.cross_entropy(logits[0], 0) == L.cross_entropy(logits[:1], np.array([0]))
    assert util.to_module_of(logits, np.zeros(1)) is logits  # already NumPy: not copied
