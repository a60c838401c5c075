"""A program compiled once into a flat step plan that training replays at every step.

The engine's passes walk the whole graph and build dicts and closures on every call: right
for one gradient, slow for thousands of small steps. A StepPlan is made once from the graph:

- the forward plan: (kernel, argument slots, output slot, parameters) for every node the cost
  needs, in evaluation order; constants (and arrays made from parameters alone, zeros(2, 3))
  are evaluated once, at build time, in the training dtype;
- the reverse plan: for every node on a path from a parameter to the cost, in reverse order,
  the edges into arguments that are on such a path, each with its rule from the op table (a
  local partial, multiplied by the adjoint and summed back to the argument's shape, or a
  vector-Jacobian product), the kink values of the convention where the rule has them.

Values and adjoints live in two lists indexed by node id, reused from step to step. The rules
are the op table's own (nothing here knows an operation), except one kernel: the product of
two matrices, whose vector-Jacobian products are written out (g·bᵀ, aᵀ·g) because the table's
general rule handles vectors too and costs several calls per step. tests/test_fit_plan.py
checks every gradient against the engine's. A program the plan cannot replay (hessian(), which
the engine evaluates over the graph) gets None from `compile_plan`: training then uses the
engine's passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import fit_shape
from .engine import needed_nodes
from .graph import Program
from .ops import OPS, Linear, params_of


class StepPlan:
    """Forward and reverse plans of one program for one cost and its parameters."""

    def __init__(self, program: Program, cost: int, params: dict[str, int], dtype: Any,
                 convention: str = "tensorflow"):
        graph = program.graph
        self.program, self.cost, self.params, self.dtype = program, cost, params, dtype
        used = sorted(graph.ancestors([cost]))
        self.values: list[Any] = [None] * len(graph)
        self.inputs: list[tuple[str, int]] = []  # (name, slot) set at every step
        self.forward_plan: list[tuple[Any, tuple[int, ...], int, dict[str, Any]]] = []
        for n in used:
            node = graph[n]
            entry = OPS.get(node.op)
            if node.op == "const":
                self.values[n] = np.asarray(node.attr[0], dtype=dtype)[()]
            elif node.op == "input":
                self.inputs.append((node.attr, n))
            elif not node.args:  # zeros(2, 3), linspace(...): made once, in the dtype
                self.values[n] = np.asarray(entry.evaluate(**params_of(entry, node.attr)), dtype=dtype)[()]
            else:
                self.forward_plan.append((entry.evaluate, node.args, n,
                                          params_of(entry, node.attr) if entry.params else {}))
        needed = needed_nodes(program, [cost]) & graph.descendants(list(params.values()))
        self.needed = needed
        self.reverse_plan: list[tuple[int, tuple[int, ...], list[tuple[int, int, Any, bool]], Any,
                                      dict[str, Any]]] = []
        for n in sorted(needed, reverse=True):
            node = graph[n]
            entry = OPS.get(node.op)
            if entry is None or node.op in ("input", "const"):
                continue
            edges = []
            for i, arg in enumerate(node.args):
                if arg not in needed:
                    continue
                rule = entry.partial(i)
                if rule is None:
                    continue
                kink = entry.kink.used[convention][i] if entry.kink is not None else None
                if node.op == "matmul":
                    edges.append((i, arg, rule, "matmul"))
                else:
                    edges.append((i, arg, rule, "linear" if isinstance(rule, Linear) else kink))
            if edges:
                self.reverse_plan.append((n, node.args, edges, entry.kink.where if entry.kink else None,
                                          params_of(entry, node.attr) if entry.params else {}))
        self.adjoints: list[Any] = [None] * len(graph)

    @property
    def replayable(self) -> bool:
        return not any(OPS[self.program.graph[n].op].needs_graph for _, _, n, _ in self.forward_plan)

    def forward(self, inputs: dict[str, Any]) -> Any:
        """The cost's value for these inputs (every needed node's value is kept in .values)."""
        v = self.values
        for name, slot in self.inputs:
            v[slot] = inputs[name]
        with np.errstate(all="ignore"):
            for evaluate, args, out, params in self.forward_plan:
                v[out] = evaluate(*[v[a] for a in args], **params)
        return v[self.cost]

    def gradients(self, inputs: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """The cost (its mean, when it is an array) and ∂cost/∂parameter for each parameter."""
        cost = self.forward(inputs)
        v, adj = self.values, self.adjoints
        for n in self.needed:
            adj[n] = None
        if np.ndim(cost) == 0:
            loss = float(cost)
            adj[self.cost] = np.ones((), dtype=self.dtype)[()]
        else:
            loss = float(np.mean(cost))
            adj[self.cost] = np.full(np.shape(cost), 1 / np.size(cost), dtype=self.dtype)
        with np.errstate(all="ignore"):
            for n, arg_ids, edges, kink_where, params in self.reverse_plan:
                g = adj[n]
                if g is None:
                    continue
                args = [v[a] for a in arg_ids]
                y = v[n]
                mask = None
                if kink_where is not None:
                    mask = kink_where(*args)
                    if not np.any(mask):
                        mask = None
                for i, arg, rule, kind in edges:
                    a = args[i]
                    if kind == "matmul" and np.ndim(args[0]) == 2 and np.ndim(args[1]) == 2:
                        if np.shape(g) != np.shape(y):
                            g = np.broadcast_to(g, np.shape(y))
                        c = g @ args[1].T if i == 0 else args[0].T @ g
                    elif kind in ("linear", "matmul"):
                        c = rule.vjp(i, np.broadcast_to(g, np.shape(y)), args, y, params)
                    else:
                        local = rule(*args, y)
                        want = np.result_type(a, np.float32)
                        if getattr(local, "dtype", want) != want:
                            local = np.asarray(local, dtype=want)[()]
                        if mask is not None and kind is not None:
                            local = np.where(mask, kind, local)[()]
                        c = g * local
                        shape = np.shape(a)
                        if np.shape(c) != shape:
                            c = fit_shape(c, shape)
                    previous = adj[arg]
                    adj[arg] = c if previous is None else previous + c
        grads = {}
        for name, node in self.params.items():
            g = adj[node]
            shape = np.shape(v[node])
            if g is None:
                grads[name] = np.zeros(shape, dtype=self.dtype)
            elif np.shape(g) != shape or getattr(g, "dtype", None) != self.dtype:
                grads[name] = np.broadcast_to(g, shape).astype(self.dtype, copy=False)
            else:
                grads[name] = g
        return loss, grads


def compile_plan(program: Program, cost: int, params: dict[str, int], dtype: Any,
                 convention: str = "tensorflow") -> StepPlan | None:
    """The program's step plan, or None when it has a node only the engine evaluates."""
    plan = StepPlan(program, cost, params, dtype, convention)
    return plan if plan.replayable else None
