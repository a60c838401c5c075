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

Values and adjoints live in two lists indexed by node id, reused from step to step; a step
lets go of its intermediate arrays as soon as it is done with them (an adjoint once it is
passed on, a node's value once the reverse pass is past it, the rest at the end), so that
fewer large arrays are alive at once. The rules are the op table's own (nothing here knows an
operation), except three kernels written out because the table's general rules cost several
calls per step: the product of two matrices (g·bᵀ and aᵀ·g; the table's rule handles vectors
too), the mean of every element (g/size, left to broadcast: every use of an adjoint accepts
one that broadcasts to the node's shape), and relu's partial where(x > 0, 1, 0) as the mask
x > 0 itself (the table's rule makes an integer array that numpy multiplies ten times slower;
at the kink x = 0 every convention's value is 0, which the mask gives); and, forward, the mean
of every element of a float array as its sum over its size (numpy's mean, bit for bit, without
its wrapper's cost).
tests/test_fit_optimizers.py checks the plan's gradients against the engine's. A program the
plan cannot replay (hessian(), which the engine evaluates over the graph) gets None from
`compile_plan`: training then uses the engine's passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import fit_shape
from .engine import needed_nodes
from .graph import Program
from .ops import OPS, Linear, params_of


class StepPlan:
    """Forward and reverse plans of one program for one cost and its parameters.

    Replaying assumes numpy's error state is already set by the caller (training sets it
    once for the whole loop): non-finite values are found by looking at the results. Values
    are numpy arrays or numpy scalars (inputs as arrays): their .shape is read directly."""

    def __init__(self, program: Program, cost: int, params: dict[str, int], dtype: Any,
                 convention: str = "tensorflow"):
        graph = program.graph
        self.program, self.cost, self.params, self.dtype = program, cost, params, dtype
        used = sorted(graph.ancestors([cost]))
        self.values: list[Any] = [None] * len(graph)
        self.inputs: list[tuple[str, int]] = []  # (name, slot) set at every step
        self.forward_plan: list[list[Any]] = []  # [kernel, argument slots, output slot, parameters]
        self.graph_nodes = False  # a node only the engine evaluates (hessian)
        for n in used:
            node = graph[n]
            entry = OPS.get(node.op)
            if node.op == "const":
                self.values[n] = np.asarray(node.attr[0], dtype=dtype)[()]
            elif node.op == "input":
                self.inputs.append((node.attr, n))
            elif entry.needs_graph:
                self.graph_nodes = True
            elif not node.args:  # zeros(2, 3), linspace(...): made once, in the dtype
                self.values[n] = np.asarray(entry.evaluate(**params_of(entry, node.attr)), dtype=dtype)[()]
            else:
                self.forward_plan.append([entry.evaluate, node.args, n,
                                          params_of(entry, node.attr) if entry.params else {}])
        self.needed = needed_nodes(program, [cost]) & graph.descendants(list(params.values()))
        # [node, argument slots, edges, kink test, parameters]; an edge is [position, argument,
        # rule, kind]: kind "linear" (a vector-Jacobian product), "matmul" (the matrix
        # product's, specialised to "matrices" once both sides are seen to be matrices), "mean"
        # (of every element), "plus" or "minus" (a constant local partial 1 or -1), or the
        # convention's value at a kink (None: the rule's own) for a local partial.
        self.reverse_plan: list[tuple[int, tuple[int, ...], list[list[Any]], Any, dict[str, Any]]] = []
        for n in sorted(self.needed, reverse=True):
            node = graph[n]
            entry = OPS.get(node.op)
            if entry is None or node.op in ("input", "const"):
                continue
            edges = []
            kink = entry.kink
            for i, arg in enumerate(node.args):
                rule = entry.partial(i) if arg in self.needed else None
                if rule is None:
                    continue
                if node.op == "matmul":
                    kind = "matmul"
                elif node.op == "mean" and params_of(entry, node.attr)["axis"] is None:
                    kind = "mean"
                elif node.op == "relu" and kink.used[convention][0] == 0:
                    kind, kink = "positive", None  # where(x > 0, 1, 0), 0 at the kink: the mask x > 0
                elif isinstance(rule, Linear):
                    kind = "linear"
                elif entry.kink is None and entry.constant_partial(i) in (1, -1):
                    kind = "plus" if entry.constant_partial(i) == 1 else "minus"
                else:
                    kind = entry.kink.used[convention][i] if entry.kink is not None else None
                edges.append([i, arg, rule, kind])
            if edges:
                self.reverse_plan.append((n, node.args, edges, kink.where if kink else None,
                                          params_of(entry, node.attr) if entry.params else {}))
        self.adjoints: list[Any] = [None] * len(graph)
        self.specialised = False
        self.one = np.ones((), dtype=dtype)[()]
        self.numpy_dtype = np.dtype(dtype)  # compared with a gradient's at every step: dtype to dtype is fast

    def _specialise(self) -> None:
        """After the first pass, from the values it left: products of two matrices go straight
        to numpy (their ranks do not change from batch to batch; a shape that does not fit
        still raises numpy's error, which the caller turns into the engine's message); the mean
        of every element of a float array is its sum over its size (numpy's mean, without the
        wrapper); a local partial whose type needs no cast (its argument's dtype does not change
        from step to step) skips the test of it."""
        v, graph = self.values, self.program.graph
        matrices = {n for n in range(len(v)) if graph[n].op == "matmul" and v[n] is not None
                    and all(np.ndim(v[a]) == 2 for a in graph[n].args)}
        for step in self.forward_plan:
            n, arg = step[2], step[1][0]
            if n in matrices:
                step[0] = np.matmul
            elif (graph[n].op == "mean" and step[3]["axis"] is None and isinstance(v[arg], np.ndarray)
                  and v[arg].ndim and v[arg].dtype in (np.float32, np.float64)):
                step[0], step[3] = _mean_of_all, {}
        for n, arg_ids, edges, _, _ in self.reverse_plan:
            for edge in edges:
                if n in matrices:
                    edge[3] = "matrices"
                elif edge[3] is None and v[n] is not None:
                    local = edge[2](*[v[a] for a in arg_ids], v[n])
                    want = np.result_type(v[edge[1]], np.float32)
                    have = getattr(local, "dtype", want)
                    if have == want or (want == np.float64 and have.kind in "biu"):
                        edge[3] = "local"
        self.specialised = True

    def forward(self, inputs: dict[str, Any]) -> Any:
        """The cost's value for these inputs (every needed node's value is kept in .values)."""
        v = self.values
        for name, slot in self.inputs:
            v[slot] = inputs[name]
        for evaluate, args, out, params in self.forward_plan:
            v[out] = evaluate(*[v[a] for a in args], **params)
        return v[self.cost]

    def gradients(self, inputs: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """The cost (its mean, when it is an array) and ∂cost/∂parameter for each parameter."""
        cost = self.forward(inputs)
        v, adj = self.values, self.adjoints
        for n in self.needed:
            adj[n] = None
        shape = cost.shape
        if shape == ():
            loss = float(cost)
            adj[self.cost] = self.one
        else:
            loss = float(np.mean(cost))
            adj[self.cost] = np.full(shape, 1 / np.size(cost), dtype=self.dtype)
        for n, arg_ids, edges, kink_where, params in self.reverse_plan:
            g = adj[n]
            if g is None:
                continue
            adj[n] = None  # used once: freed as soon as the arguments have their share
            args = [v[a] for a in arg_ids]
            y = v[n]
            mask = None
            if kink_where is not None:
                mask = kink_where(*args)
                if not np.any(mask):
                    mask = None
            for i, arg, rule, kind in edges:
                a = args[i]
                if kind == "matrices":
                    if g.shape != y.shape:
                        g = np.broadcast_to(g, y.shape)
                    c = g @ args[1].T if i == 0 else args[0].T @ g
                elif kind == "mean":  # of every element: g/size, spread over the argument by its users
                    c = g * (1 / a.size)
                elif kind == "positive":  # relu: g where x > 0, else 0 (at 0 too, every convention's value)
                    c = g * (a > 0)
                elif kind == "linear" or kind == "matmul":
                    c = rule.vjp(i, g if g.shape == y.shape else np.broadcast_to(g, y.shape), args, y, params)
                else:
                    if kind == "plus":  # a sum's partial, 1: the adjoint itself
                        c = g
                    elif kind == "minus":
                        c = -g
                    elif kind == "local":  # its type seen to need no cast (_specialise)
                        c = g * rule(*args, y)
                    else:
                        local = rule(*args, y)
                        want = np.result_type(a, np.float32)
                        have = getattr(local, "dtype", want)
                        # where(x > 0, 1, 0) is integer: cast, unless the product is float64 anyway
                        if have != want and not (want == np.float64 and have.kind in "biu"):
                            local = np.asarray(local, dtype=want)[()]
                        if mask is not None and kind is not None:
                            local = np.where(mask, kind, local)[()]
                        c = g * local
                    if c.shape != a.shape:  # summed over the axes it was broadcast along
                        c = c.sum(axis=0) if c.shape[1:] == a.shape else fit_shape(c, a.shape)
                previous = adj[arg]
                adj[arg] = c if previous is None else previous + c
            if self.specialised:  # its users came before it: no later edge reads its value
                v[n] = None
        if not self.specialised:
            self._specialise()
        for _, _, out, _ in self.forward_plan:
            v[out] = None
        grads = {}
        for name, node in self.params.items():
            g = adj[node]
            shape = np.shape(inputs[name])
            if g is None:
                grads[name] = np.zeros(shape, dtype=self.dtype)
            elif g.shape != shape or g.dtype != self.numpy_dtype:
                grads[name] = np.broadcast_to(g, shape).astype(self.dtype, copy=False)
            else:
                grads[name] = g
        return loss, grads


def _mean_of_all(a: Any) -> Any:
    """np.mean(a) of a float32 or float64 array, the same bits: the sum, over the size."""
    return np.add.reduce(a, axis=None) / a.size


def compile_plan(program: Program, cost: int, params: dict[str, int], dtype: Any,
                 convention: str = "tensorflow") -> StepPlan | None:
    """The program's step plan, or None when it has a node only the engine evaluates."""
    plan = StepPlan(program, cost, params, dtype, convention)
    return None if plan.graph_nodes else plan
