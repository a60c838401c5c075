"""The corpus of derivatives that measures how simple adiff's printed formulas are (issue 12).

Each case is an expression in adiff's language, built side by side with the same expression
in SymPy (the oracle), and a variable. The corpus: the issue's table, textbook rules, and
random compositions (seeded, so the same every run) of every scalar function that `adiff
functions` lists, in one and two variables, kept where the expression and its derivative
are finite at the sample points.

SymPy's own answer, `simplify(diff(f))`, is slow (minutes for the corpus), so its size
(sympy.count_ops) is recorded in symbolic_corpus.json next to this file; the default test
compares with the recorded sizes and checks that the recorded corpus is this generator's, a
slow test recomputes them. Regenerate with `python tests/symbolic_corpus.py`.
"""

from __future__ import annotations

import json
import pathlib
import random

import mpmath
import sympy as sp

X, Y = sp.symbols("x y", real=True)
POINTS = [(0.37, 0.71), (0.61, 0.43), (0.83, 0.29)]
RECORD = pathlib.Path(__file__).with_name("symbolic_corpus.json")


class _Step(sp.Function):
    """A step function as adiff differentiates it: derivative 0 wherever it exists."""

    def fdiff(self, argindex=1):
        return sp.S.Zero


class Floor(_Step):
    _imp_ = staticmethod(lambda u: mpmath.floor(u))


class Ceil(_Step):
    _imp_ = staticmethod(lambda u: mpmath.ceil(u))


class Round(_Step):
    _imp_ = staticmethod(lambda u: mpmath.nint(u))


class Sign(_Step):
    _imp_ = staticmethod(lambda u: mpmath.sign(u))


UNARY = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh, "acosh": sp.acosh,
    "atanh": sp.atanh, "exp": sp.exp, "log": sp.log, "log2": lambda u: sp.log(u, 2),
    "log10": lambda u: sp.log(u, 10), "sqrt": sp.sqrt, "cbrt": lambda u: u ** sp.Rational(1, 3),
    "abs": sp.Abs, "sign": Sign, "sigmoid": lambda u: 1 / (1 + sp.exp(-u)),
    "relu": lambda u: sp.Max(u, 0), "softplus": lambda u: sp.log(1 + sp.exp(u)),
    "floor": Floor, "ceil": Ceil, "round": Round,
}
BINARY = {
    "pow": lambda a, b: a ** b, "max": sp.Max, "min": sp.Min, "atan2": sp.atan2,
    "hypot": lambda a, b: sp.sqrt(a ** 2 + b ** 2),
}

TABLE = ["sin(x)^2 + cos(x)^2", "1/(1 + exp(-x))", "sqrt(x^2 + y^2)", "sin(x)/x", "x^x"]
TEXTBOOK = [
    "x^5", "3*x^4 - 2*x^2 + 7*x - 1", "x^-3", "1/x", "1/x^2", "sqrt(x)", "x^(3/2)", "x^(1/3)",
    "x*sin(x)", "x^2*exp(x)", "exp(x)*cos(x)", "sin(x)*cos(x)", "x*log(x) - x", "log(x)/x",
    "x/(1 + x)", "(x + 1)/(x - 2)", "(x^2 + 1)/(x^2 - 1)", "sin(x)/cos(x)", "1/(1 + x^2)",
    "exp(-x^2)", "exp(2*x)*exp(3*x)", "exp(x)^2", "sin(x^2)", "sin(x)^2", "cos(3*x + 1)",
    "(2*x + 1)^5", "sqrt(1 - x^2)", "sqrt(x^2 + 1)", "log(x^2 + 1)", "log(sin(x))", "exp(sin(x))",
    "tan(x)^2", "atan(x/y)", "asin(x)", "acos(x)", "atan(x)", "sinh(x)*cosh(x)", "tanh(x)",
    "log(exp(x^2))", "exp(log(x) + x)", "x^y", "y^x", "x*y", "x^2*y + y^2*x", "exp(x*y)",
    "sin(x*y)", "x/y", "log(x*y)", "sqrt(x*y)", "sin(x*pi/180)", "2^x", "x^2/2 + x/3",
    "sin(x)^2 - cos(x)^2", "cosh(x)^2 - sinh(x)^2", "(x - 1)^2 - (x + 1)^2", "x*exp(-x)",
    "log(log(x + 2))", "sigmoid(x)", "softplus(x)", "x*sigmoid(x)", "exp(x)/(1 + exp(x))",
]


def to_sympy(text: str) -> sp.Expr:
    """An expression of the corpus (adiff text) as SymPy reads it."""
    names = {**UNARY, **BINARY, "x": X, "y": Y, "pi": sp.pi, "e": sp.E}
    return sp.parse_expr(text.replace("^", "**"), local_dict=names)


def random_cases(count: int, seed: int = 12) -> list[str]:
    """Random compositions of every function: each function appears as the outer function
    of several shapes, one and two variables."""
    rng = random.Random(seed)
    unary, binary = sorted(UNARY), sorted(BINARY)
    inner = ["x", "x^2", "2*x", "x + 1", "x*y", "x + y", "x/2", "sin(x)", "exp(-x)", "x^2 + y^2"]
    shapes = [
        lambda f, g, h, b: f"{f}({g}({h}))",
        lambda f, g, h, b: f"{f}({h})*{g}(x)",
        lambda f, g, h, b: f"{f}(x)/(2 + {g}({h}))",
        lambda f, g, h, b: f"{f}({g}(x) + {h})",
        lambda f, g, h, b: f"{f}(x)*{g}(y) + {h}",
        lambda f, g, h, b: f"{b}({f}({h}), {g}(y))",
        lambda f, g, h, b: f"{f}({b}(x, {g}({h})))",
        lambda f, g, h, b: f"x*{f}({h}) - {g}({h})",
    ]
    out: list[str] = []
    seen = set(TABLE) | set(TEXTBOOK)
    k = 0
    while len(out) < count and k < 50 * count:
        f = unary[k % len(unary)]
        k += 1
        g = rng.choice(unary)
        h = rng.choice(inner)
        b = rng.choice(binary)
        text = rng.choice(shapes)(f, g, h, b)
        if text not in seen and _usable(text):
            seen.add(text)
            out.append(text)
    return out


def _finite(expr: sp.Expr) -> bool:
    f = sp.lambdify((X, Y), expr, modules="mpmath")
    with mpmath.workdps(30):
        for x, y in POINTS:
            try:
                v = f(mpmath.mpf(x), mpmath.mpf(y))
            except (ValueError, ZeroDivisionError, TypeError, AttributeError):
                return False
            if not isinstance(v, mpmath.mpf) or not mpmath.isfinite(v):
                return False
    return True


def _usable(text: str) -> bool:
    """Finite and real at every sample point, the expression and its partials (no kink hit)."""
    expr = to_sympy(text)
    if not _finite(expr):
        return False
    return all(_finite(sp.diff(expr, v)) for v in (X, Y) if v in expr.free_symbols)


def cases() -> list[tuple[str, str]]:
    """(expression, variable): every partial of every expression of the corpus."""
    out = []
    for text in [*TABLE, *TEXTBOOK, *random_cases(220)]:
        names = sorted(str(s) for s in to_sympy(text).free_symbols)
        out += [(text, v) for v in names]
    return out


def sympy_size(text: str, var: str) -> int:
    """count_ops of SymPy's simplify(diff(f)): the size to beat."""
    return int(sp.count_ops(sp.simplify(sp.diff(to_sympy(text), {"x": X, "y": Y}[var]))))


class _Opaque(sp.Function):
    """A function of adiff's that SymPy has no name for, kept as one call (one operation, as
    adiff prints it), with its numbers for the comparison."""

    def fdiff(self, argindex=1):
        raise NotImplementedError


def _opaque(name: str, f) -> type:
    return type(name, (_Opaque,), {"_imp_": staticmethod(f)})


# adiff's printed names as SymPy reads them: the same function where SymPy has it, else one
# opaque call with its values (mpmath)
ADIFF_NAMES = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh, "acosh": sp.acosh,
    "atanh": sp.atanh, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "sign": sp.sign,
    "max": sp.Max, "min": sp.Min, "atan2": sp.atan2, "pow": sp.Pow, "pi": sp.pi, "e": sp.E,
    "where": lambda c, a, b: sp.Piecewise((a, c), (b, True)),
    "log2": _opaque("log2", lambda u: mpmath.log(u, 2)), "log10": _opaque("log10", mpmath.log10),
    "cbrt": _opaque("cbrt", mpmath.cbrt),
    "sigmoid": _opaque("sigmoid", lambda u: 1 / (1 + mpmath.exp(-u))),
    "relu": _opaque("relu", lambda u: max(u, 0)),
    "softplus": _opaque("softplus", lambda u: mpmath.log1p(mpmath.exp(u))),
    "hypot": _opaque("hypot", mpmath.hypot), "floor": Floor, "ceil": Ceil, "round": Round,
}


def adiff_derivative(text: str, var: str) -> sp.Expr:
    """adiff's printed derivative (the text `adiff diff` prints), read by SymPy: `·` is `*`,
    `^` is `**`, shared parts (t1 = ...) substituted where they are used."""
    from autodiff_cli.api import diff

    (result,) = diff(text, wrt=var)
    local: dict[str, object] = {**ADIFF_NAMES, "x": X, "y": Y}
    expr = None
    for name, line in result.statements():
        expr = sp.parse_expr(line.replace("·", "*").replace("^", "**"), local_dict=local)
        if name:
            local[name] = expr
    return expr


def agree(ours: sp.Expr, theirs: sp.Expr) -> bool:
    """Equal at every sample point, with 30 significant digits."""
    f = sp.lambdify((X, Y), ours, modules="mpmath")
    g = sp.lambdify((X, Y), theirs, modules="mpmath")
    with mpmath.workdps(30):
        for x, y in POINTS:
            a, b = f(mpmath.mpf(x), mpmath.mpf(y)), g(mpmath.mpf(x), mpmath.mpf(y))
            if not abs(a - b) <= 1e-12 * abs(b) + 1e-20:
                return False
    return True


def measure() -> tuple[list[dict], dict[str, float]]:
    """Each recorded case with adiff's size (count_ops), SymPy's and whether they agree; and
    the three figures: the share that agrees, the share not longer than SymPy's simplify, the
    share at most 1.5 times as long."""
    rows = []
    for case in json.loads(RECORD.read_text()):
        ours = adiff_derivative(case["f"], case["wrt"])
        theirs = sp.diff(to_sympy(case["f"]), {"x": X, "y": Y}[case["wrt"]])
        size = int(sp.count_ops(ours))
        rows.append({**case, "adiff": str(ours), "adiff_ops": size, "agree": agree(ours, theirs),
                     "ratio": size / max(case["sympy_ops"], 1)})
    n = len(rows)
    figures = {"cases": n, "agree": sum(r["agree"] for r in rows) / n,
               "not_longer": sum(r["adiff_ops"] <= r["sympy_ops"] for r in rows) / n,
               "within_1_5": sum(r["ratio"] <= 1.5 for r in rows) / n}
    return rows, figures


def main() -> None:
    record = []
    for i, (text, var) in enumerate(cases()):
        record.append({"f": text, "wrt": var, "sympy_ops": sympy_size(text, var)})
        print(i, text, var, record[-1]["sympy_ops"], flush=True)
    RECORD.write_text(json.dumps(record, indent=0) + "\n")


if __name__ == "__main__":
    main()
