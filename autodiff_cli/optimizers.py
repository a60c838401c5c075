"""The update rules of `adiff fit`, as Keras 3 writes them (keras/src/optimizers/sgd.py,
adam.py, rmsprop.py), with Keras's defaults. For a parameter w with gradient g at step t
(1, 2, ...) and learning rate η (after the schedule):

    sgd        w ← w − η·g
    momentum   m ← μ·m − η·g;  w ← w + m                              (μ = 0.9 unless --momentum)
    nesterov   m ← μ·m − η·g;  w ← w + μ·m − η·g
    adam       m ← m + (g − m)(1 − β₁);  v ← v + (g² − v)(1 − β₂);
               w ← w − η·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε)             (β₁ 0.9, β₂ 0.999, ε 1e-7)
    rmsprop    v ← ρ·v + (1 − ρ)·g²;  w ← w − η·g/√(v + ε)                    (ρ 0.9, ε 1e-7)

m and v start at 0. The step-decay schedule (Keras's ExponentialDecay with staircase=True):
η at step t is lr · F^⌊(t − 1)/N⌋ for --lr-decay F --lr-decay-every N.

Every update is made in place in the parameter's own array, in its dtype (float32 stays
float32; the rule's constants are cast to it, as Keras casts them to the variable's dtype).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import UsageError

DEFAULT_LR = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001, "rmsprop": 0.001}
OPTIMIZERS = tuple(DEFAULT_LR)
RULES = {
    "sgd": "w ← w − η·g",
    "momentum": "m ← μ·m − η·g; w ← w + m",
    "nesterov": "m ← μ·m − η·g; w ← w + μ·m − η·g",
    "adam": "m ← m + (g − m)(1 − β₁); v ← v + (g² − v)(1 − β₂); w ← w − η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(√v + ε)",
    "rmsprop": "v ← ρ·v + (1 − ρ)·g²; w ← w − η·g/√(v + ε)",
}


@dataclass
class Optimizer:
    """One of the rules above with its settings and its state (m, v per parameter)."""

    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9  # μ of momentum and nesterov
    beta_1: float = 0.9
    beta_2: float = 0.999
    rho: float = 0.9
    epsilon: float = 1e-7
    decay: float = 1.0  # F of the step decay (1: none)
    decay_every: int = 0  # N of the step decay, in steps (0: none)
    iterations: int = 0  # steps taken
    m: dict[str, Any] = field(default_factory=dict)
    v: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in RULES:
            raise UsageError(f"unknown optimizer '{self.name}': one of {', '.join(OPTIMIZERS)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr must be a positive number, got {self.lr:g}")
        if not 0 <= self.momentum < 1:
            raise UsageError(f"--momentum must be at least 0 and below 1, got {self.momentum:g}")
        if not (math.isfinite(self.decay) and self.decay > 0):
            raise UsageError(f"--lr-decay must be a positive number, got {self.decay:g}")
        if self.decay_every < 0:
            raise UsageError(f"--lr-decay-every must be 0 or more steps, got {self.decay_every}")

    def settings(self) -> dict[str, Any]:
        """The rule, its constants and the schedule, for the JSON document and the heading."""
        out: dict[str, Any] = {"name": self.name, "lr": self.lr, "rule": RULES[self.name]}
        if self.name in ("momentum", "nesterov"):
            out["momentum"] = self.momentum
        elif self.name == "adam":
            out.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        elif self.name == "rmsprop":
            out.update(rho=self.rho, epsilon=self.epsilon)
        if self.decay_every:
            out.update(lr_decay=self.decay, lr_decay_every=self.decay_every)
        return out

    def rate(self) -> float:
        """η of the next step: the learning rate after the step decay."""
        if not self.decay_every:
            return self.lr
        return self.lr * self.decay ** (self.iterations // self.decay_every)

    def update(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        """One step: every parameter moved in place against its gradient."""
        lr = self.rate()
        self.iterations += 1
        t = self.iterations
        for name, g in grads.items():
            w = params[name]
            kind = w.dtype.type
            eta = kind(lr)
            if self.name == "sgd":
                w -= eta * g
                continue
            if self.name in ("momentum", "nesterov"):
                mu = kind(self.momentum)
                m = self.m.setdefault(name, np.zeros_like(w))
                m *= mu
                m -= eta * g
                if self.name == "momentum":
                    w += m
                else:
                    w += mu * m - eta * g
            elif self.name == "adam":
                b1, b2 = kind(self.beta_1), kind(self.beta_2)
                m = self.m.setdefault(name, np.zeros_like(w))
                v = self.v.setdefault(name, np.zeros_like(w))
                alpha = eta * np.sqrt(1 - b2 ** kind(t)) / (1 - b1 ** kind(t))
                m += (g - m) * (1 - b1)
                v += (g * g - v) * (1 - b2)
                w -= m * alpha / (np.sqrt(v) + kind(self.epsilon))
            else:  # rmsprop
                rho = kind(self.rho)
                v = self.v.setdefault(name, np.zeros_like(w))
                v *= rho
                v += (1 - rho) * (g * g)
                w -= eta * g / np.sqrt(v + kind(self.epsilon))
