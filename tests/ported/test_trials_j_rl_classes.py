"""Reinforcement-learning code organised as its tutorials organise it: a ``Policy`` class with
``forward``/``log_prob``/``entropy`` methods, a ``ValueNet`` baseline, a rollout buffer dict of
lists filled by ``buffer["rewards"].append(r)`` in the loss's own loop, returns computed by a
``compute_returns`` helper looping ``reversed(range(len(rewards)))`` with ``returns[t] =``
writes, a ``gae`` helper returning ``advantages, returns``, advantages normalised, an
actor-critic loss combining the heads with coefficients from a config dataclass, a neural ODE
as a class whose ``rk4_step`` method is called in a loop, and a Bahdanau attention decoder
step as a class. Each against Python's value and central differences on calls 1-3, to second
order where smooth (``G, returns = 0.0, []`` then ``returns = np.array(returns)``, and
``reversed(buffer["rewards"])``, were refused before)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(1701)


def r(*s):
    return R.standard_normal(s)


T = 5
STATES = r(T, 3)
ACTIONS = np.array([1, 0, 2, 2, 1])
REWARDS = np.array([0.5, -1.0, 0.0, 1.5, 0.3])
DONES = np.array([0.0, 0.0, 0.0, 1.0, 0.0])


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    gamma: float = 0.95
    lam: float = 0.9
    vf_coef: float = 0.5
    ent_coef: float = 0.01


class Policy:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, s):
        return s @ self.W + self.b

    def log_prob(self, s, a):
        logits = self.forward(s)
        logits = logits - logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        return logp[np.arange(len(a)), a]

    def entropy(self, s):
        logits = self.forward(s)
        p = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p = p / p.sum(axis=-1, keepdims=True)
        return -np.sum(p * np.log(p), axis=-1)


class ValueNet:
    def __init__(self, W1, w2):
        self.W1 = W1
        self.w2 = w2

    def __call__(self, s):
        return np.tanh(s @ self.W1) @ self.w2


def compute_returns(rewards, dones, gamma):
    returns = np.zeros(len(rewards))
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running * (1.0 - dones[t])
        returns[t] = running
    return returns


def gae(rewards, values, last_value, dones, gamma, lam):
    advantages = np.zeros_like(rewards)
    last = 0.0
    for t in reversed(range(len(rewards))):
        next_v = last_value if t == len(rewards) - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_v * (1 - dones[t]) - values[t]
        last = delta + gamma * lam * (1 - dones[t]) * last
        advantages[t] = last
    return advantages, advantages + values


def reinforce_with_value_baseline(pW, pb, vW1, vw2, states, actions, rewards, dones):
    policy, value = Policy(pW, pb), ValueNet(vW1, vw2)
    returns = compute_returns(rewards, dones, 0.9)
    baseline = value(states)
    adv = returns - baseline
    policy_loss = -np.mean(policy.log_prob(states, actions) * adv)
    value_loss = np.mean((returns - baseline) ** 2)
    return policy_loss + 0.5 * value_loss


def ppo_actor_critic(
    pW, pb, vW1, vw2, states, actions, rewards, dones, old_logp, last_s, cfg=PPOConfig()
):
    policy, value = Policy(pW, pb), ValueNet(vW1, vw2)
    values = value(states)
    adv, returns = gae(rewards, values, value(last_s[None])[0], dones, cfg.gamma, cfg.lam)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    ratio = np.exp(policy.log_prob(states, actions) - old_logp)
    surr = np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv)
    v_loss = np.mean((values - returns) ** 2)
    return -np.mean(surr) + cfg.vf_coef * v_loss - cfg.ent_coef * np.mean(policy.entropy(states))


def rollout_buffer_dict(pW, pb, states, actions, rewards):
    policy = Policy(pW, pb)
    buffer = {"logp": [], "rewards": []}
    for t in range(len(rewards)):
        buffer["logp"].append(policy.log_prob(states[t : t + 1], actions[t : t + 1])[0])
        buffer["rewards"].append(rewards[t])
    G, returns = 0.0, []
    for rew in reversed(buffer["rewards"]):
        G = rew + 0.9 * G
        returns.insert(0, G)
    returns = np.array(returns)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    return -np.sum(np.stack(buffer["logp"]) * returns)


class ODEFunc:
    def __init__(self, W, V):
        self.W = W
        self.V = V

    def __call__(self, t, y):
        return np.tanh(y @ self.W + t) @ self.V


class ODESolver:
    def __init__(self, func, dt):
        self.func = func
        self.dt = dt

    def rk4_step(self, t, y):
        dt, f = self.dt, self.func
        k1 = f(t, y)
        k2 = f(t + dt / 2, y + dt * k1 / 2)
        k3 = f(t + dt / 2, y + dt * k2 / 2)
        k4 = f(t + dt, y + dt * k3)
        return y + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6

    def integrate(self, y0, n_steps):
        ys = [y0]
        t = 0.0
        for _ in range(n_steps):
            ys.append(self.rk4_step(t, ys[-1]))
            t += self.dt
        return ys


def neural_ode_class(W, V, y0, target):
    solver = ODESolver(ODEFunc(W, V), 0.25)
    ys = solver.integrate(y0, 4)
    return np.mean((ys[-1] - target) ** 2) + 0.01 * sum(np.sum(y**2) for y in ys)


class BahdanauAttention:
    def __init__(self, W_q, W_k, v):
        self.W_q, self.W_k, self.v = W_q, W_k, v

    def __call__(self, query, keys):
        scores = np.tanh(query @ self.W_q + keys @ self.W_k) @ self.v
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        return weights @ keys, weights


def attention_decoder(params, enc, h0, targets):
    attn = BahdanauAttention(params["W_q"], params["W_k"], params["v"])
    h = h0
    loss = 0.0
    for y in targets:
        context, _ = attn(h, enc)
        h = np.tanh(np.concatenate([h, context]) @ params["W_h"])
        logits = h @ params["W_out"]
        loss -= logits[y] - np.log(np.sum(np.exp(logits)))
    return loss / len(targets)


def discounted_tuple_start(w, rewards):
    G, returns = 0.0, []
    for rew in reversed(list(rewards * w)):
        G = rew + 0.9 * G
        returns.insert(0, G)
    return np.sum(np.array(returns) ** 2)


def discounted_rebound_as_array(w, rewards):
    returns = []
    G = 0.0
    for rew in (rewards * w)[::-1]:
        G = rew + 0.9 * G
        returns.insert(0, G)
    returns = np.array(returns)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    return np.sum(returns * np.arange(len(returns)))


P_ARGS = (r(3, 3), r(3), r(3, 4), r(4), STATES, ACTIONS, REWARDS, DONES)
CASES = [
    Case("returns_list_from_tuple_assignment", discounted_tuple_start, (r(5), REWARDS), order=2),
    Case("returns_list_rebound_as_array", discounted_rebound_as_array, (r(5), REWARDS), order=2),
    Case(
        "reinforce_value_baseline_classes",
        reinforce_with_value_baseline,
        P_ARGS,
        wrt=(0, 2),
        order=2,
    ),
    Case(
        "ppo_gae_config_dataclass",
        ppo_actor_critic,
        P_ARGS + (-1.0 + 0.1 * r(T), r(3)),
        wrt=(0, 1, 2, 3),
    ),
    Case(
        "rollout_buffer_dict_of_lists",
        rollout_buffer_dict,
        (r(3, 3), r(3), STATES, ACTIONS, REWARDS),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "neural_ode_solver_class",
        neural_ode_class,
        (r(2, 3), r(3, 2), r(3, 2), r(3, 2)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "bahdanau_decoder_class",
        attention_decoder,
        (
            {"W_q": r(3, 3), "W_k": r(3, 3), "v": r(3), "W_h": r(6, 3), "W_out": r(3, 4)},
            r(4, 3),
            r(3),
            [1, 3, 0],
        ),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_rl_classes(case):
    check(case)
