"""The canonical form of symbolic expressions: what makes equal terms meet.

A `Store` holds expressions hash-consed (one id per distinct expression, children before
parents), of five kinds:

- NUM   an exact rational (fractions.Fraction) or, where no rational is exact, a float;
- ATOM  an input, a named constant (pi, e), a reference to another graph's node;
- FN    any other operation applied to canonical arguments (sin(a), where(c, a, b), ...);
- MUL   coefficient · ∏ base^exponent, the bases in canonical order, each base once;
- ADD   constant + Σ coefficient·term, the terms in canonical order, each term once.

So sums and products are n-ary and flat, numbers are folded into one coefficient, like terms
are collected (2·a + 3·a → 5·a), equal bases merged (x·x^(x-1) → x^x), and a few identities
that derivatives hit all the time hold (sin² + cos² = 1, exp(a)·exp(b) = exp(a + b),
log(exp(a)) = a, exp(log(a)) = a for a > 0, recorded as a condition). The canonical order is
a precomputed key per expression (kind, name, size, digest of the children's digests): stable
across runs, compared without walking into the expressions.

`canonical(graph, root)` reads a formula graph in topological order (never recursively); a
chain of sums (or products) whose inner links are used once is gathered into one list first,
so a 10,000-term sum is built once, not 10,000 times. `factor_common` pulls common factors
out of sums (x^x·log(x) + x^x → x^x·(log(x) + 1)). How an expression prints is not decided
here: printing.present lays a canonical expression out as a graph the printers print.
"""

from __future__ import annotations

import math
import zlib
from fractions import Fraction
from typing import Any

from .graph import Graph, _attr_key
from .ops import OPS

NUM, ATOM, FN, MUL, ADD = "num", "atom", "fn", "mul", "add"
_RANK = {NUM: 0, MUL: 3, FN: 4, ADD: 5}
_BIG = 10 ** 40  # rationals beyond this numerator or denominator become floats

ONE, ZERO, HALF = 1, 0, Fraction(1, 2)
_NONNEGATIVE = {"exp", "sqrt", "abs", "cosh", "relu", "sigmoid", "softplus"}  # functions never below 0
_MASK = (1 << 64) - 1
_DECIMALS: dict[float, Any] = {}  # float -> its exact rational, computed once per value


def number(value: Any) -> int | Fraction | float:
    """A number in exact form where it has one (an int when whole): the float 0.1 is 1/10, its
    shortest decimal; numbers too large for exact arithmetic stay floats."""
    kind = type(value)
    if kind is int:
        return value if abs(value) <= _BIG else float(value)
    if kind is Fraction:
        if value.denominator == 1:
            return number(value.numerator)
        if abs(value.numerator) > _BIG or value.denominator > _BIG:
            return float(value)
        return value
    value = float(value)
    if not math.isfinite(value):
        return value
    if value.is_integer() and abs(value) < 2 ** 63:
        return int(value)
    found = _DECIMALS.get(value)
    if found is None:
        found = _DECIMALS[value] = number(Fraction(repr(value)))
    return found


def _is_int(v: Any) -> bool:
    return type(v) is int


def _ipow(base: Any, k: int) -> Any:
    """base^k for a whole k, exact for rationals."""
    if isinstance(base, float):
        try:
            return base ** k
        except OverflowError:  # (1e-320)^-1: as numpy gives it, an infinity the evaluation reports
            return math.copysign(math.inf, base if k % 2 else 1.0)
    if k >= 0:
        return base ** k
    return number(Fraction(1) / Fraction(base) ** -k)


class TooLarge(Exception):
    """A store filled more places than its limit: a bound on the work, which grows as the square
    of the depth where flat products write out the prefixes a chain rule shares."""

    def __init__(self, places: int):
        super().__init__(f"{places:,} places")
        self.places = places


class Store:
    """Hash-consed canonical expressions; `nodes[i]` is (kind, data), `keys[i]` its order key."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit  # places (a node, and each of its parts) the store may fill, if bounded
        self.places = 0
        self.nodes: list[tuple[str, Any]] = []
        self.keys: list[tuple] = []
        self._digests: list[int] = []  # keys[i][4], at hand
        self.sizes: list[int] = []
        self._index: dict[Any, int] = {}
        self._nums: dict[Any, int] = {}
        self._seeds: dict[tuple, int] = {}
        self.constant: list[bool] = []  # no input in it (log(2), pi/2)
        self.nonneg: list[bool] = []  # never negative where defined (x^2 + y^2, exp(a))
        self.ops: list[int] = []  # operations as printed (about sympy.count_ops): what "shorter" means
        self.one = self.num(1)  # the exponent of a plain factor
        self.conditions: dict[int, None] = {}  # ids of a with exp(log(a)) = a used: a > 0 assumed

    # --- making nodes -------------------------------------------------------------------------

    def _make(self, kind: str, data: Any, index_key: Any, name: str, children: tuple[int, ...],
              text: str, number: Any = 0) -> int:
        found = self._index.get(index_key)
        if found is not None:
            return found
        return self._new(kind, data, index_key, name, children, text, number)

    def _new(self, kind: str, data: Any, index_key: Any, name: str, children: tuple[int, ...],
             text: str, number: Any = 0) -> int:
        """_make for an expression not in the store (the caller looked)."""
        self.places += 1 + len(children)
        if self.limit is not None and self.places > self.limit:
            raise TooLarge(self.places)
        # the order key: kind, name, size, a short look at the first child, and a digest of the
        # whole (stable across runs: zlib's checksums, then the children's digests mixed in)
        seed = (kind, name, text)
        digest = self._seeds.get(seed)
        if digest is None:  # one checksum per kind of node (sin, cos, ...), not per node
            digest = self._seeds[seed] = zlib.crc32(f"{kind}|{name}|{text}".encode())
        keys = self.keys
        if children:
            sizes, constant, digests = self.sizes, self.constant, self._digests
            size = 1
            is_constant = True
            for c in children:
                digest = ((digest ^ digests[c]) * 0x100000001B3) & _MASK
                size += sizes[c]
                if is_constant and not constant[c]:
                    is_constant = False
            first = keys[children[0]][:4]
        else:
            size, first = 1, ()
            is_constant = kind == NUM or (kind == ATOM and data[0] == "const")
        rank = _RANK.get(kind, 2)
        if kind == MUL:  # a product sorts with its first factor: x^2 + y, 2·x + sin(x)
            rank, name = first[0], first[1]
        elif kind == ATOM and name in ("pi", "π", "e"):
            rank = 1
        look = (float(number) if not isinstance(number, float) or number == number else 0.0, first)
        self.nodes.append((kind, data))
        keys.append((rank, name, size, look, digest))
        self._digests.append(digest)
        self.sizes.append(size)
        if kind == FN:  # the common case, inline
            ops = 1
            all_ops = self.ops
            for a in children:
                ops += all_ops[a]
            all_ops.append(ops)
            self.nonneg.append(data[0] in _NONNEGATIVE)
        else:
            self.ops.append(self._operations(kind, data))
            self.nonneg.append(self._nonnegative(kind, data))
        self.constant.append(is_constant)
        found = self._index[index_key] = len(self.nodes) - 1
        return found

    def _operations(self, kind: str, data: Any) -> int:
        """How many operations the expression prints with: a quotient p/q is one, a power
        other than ±1 one, a product or sum of n parts n - 1, a coefficient other than ±1 one."""
        ops = self.ops
        if kind == NUM:
            return int(isinstance(data, Fraction)) + int(data < 0) if data == data else 0
        if kind == ATOM:
            return 0
        if kind == FN:
            return 1 + sum(ops[a] for a in data[1])
        if kind == MUL:
            coeff, factors = data
            total = len(factors) - 1 + int(abs(coeff) != 1) + int(coeff < 0)
            one = self.one
            for b, e in factors:
                if e == one:  # a plain factor
                    total += ops[b]
                    continue
                v = self.value(e)
                total += ops[b] + (ops[e] + 1 if v is None else int(v not in (1, -1)))
            return total
        const, terms = data
        total = len(terms) - 1 + int(const != 0)
        return total + sum(ops[t] + int(abs(c) != 1) for t, c in terms)

    def _nonnegative(self, kind: str, data: Any) -> bool:
        if kind == NUM:
            return data == data and data >= 0
        if kind == FN:
            return data[0] in _NONNEGATIVE
        if kind == MUL:
            if not data[0] > 0:
                return False
            for b, e in data[1]:
                if not self.nonneg[b]:
                    v = self.value(e)
                    if not (type(v) is int and v % 2 == 0):  # x^2 is never negative
                        return False
            return True
        if kind == ADD:
            return data[0] >= 0 and all(c > 0 and self.nonneg[t] for t, c in data[1])
        return False

    def num(self, value: Any) -> int:
        v = number(value)
        found = self._nums.get(v) if v == v else None
        if found is None:
            key = (NUM, v) if v == v else (NUM, "nan")
            found = self._make(NUM, v, key, "", (), repr(v), v)
            if v == v:
                self._nums[v] = found
        return found

    def atom(self, op: str, attr: Any, name: str) -> int:
        return self._make(ATOM, (op, attr), (ATOM, op, _attr_key(attr) if op == "const" else attr),
                          name, (), f"{op}:{name}")

    def value(self, i: int) -> Fraction | float | None:
        """The number an expression is, if it is one."""
        kind, data = self.nodes[i]
        return data if kind == NUM else None

    # --- arithmetic ---------------------------------------------------------------------------

    def add(self, items: list[tuple[Any, int]]) -> int:
        """Σ coefficient·expression, flattened, like terms collected, in canonical order."""
        const: Fraction | float = ZERO
        terms: dict[int, Any] = {}
        for c, t in items:
            kind, data = self.nodes[t]
            if kind == NUM:
                const += c * data
            elif kind == ADD:
                const += c * data[0]
                for tt, cc in data[1]:
                    terms[tt] = terms.get(tt, ZERO) + c * cc
            elif kind == MUL and data[0] != 1:
                tt = self._mul_node(ONE, data[1])
                if self.nodes[tt][0] == ADD:  # 2·(x + 1) in a sum: its terms join the sum
                    inner = self.nodes[tt][1]
                    const += c * data[0] * inner[0]
                    for t2, c2 in inner[1]:
                        terms[t2] = terms.get(t2, ZERO) + c * data[0] * c2
                else:
                    terms[tt] = terms.get(tt, ZERO) + c * data[0]
            else:
                terms[t] = terms.get(t, ZERO) + c
        terms = {t: number(c) for t, c in terms.items() if c != 0}
        if len(terms) > 1:
            self._pythagoras(terms)
            const += terms.pop(-1, ZERO)
            terms = {t: c for t, c in terms.items() if c != 0}
        if const != 0:
            const = self._one_minus_square(terms, const)
        const = number(const)
        if not terms:
            return self.num(const)
        if const == 0 and len(terms) == 1:
            (t, c), = terms.items()
            return self.scale(c, t)
        ordered = tuple(sorted(terms.items(), key=lambda tc: self.keys[tc[0]]))
        children = tuple(t for t, _ in ordered)
        text = repr((const, [c for _, c in ordered]))
        return self._make(ADD, (const, ordered), (ADD, const, ordered), "", children, text, const)

    def _pythagoras(self, terms: dict[int, Any]) -> None:
        """Squares of sin and cos (or sinh and cosh) of one argument, times the same rest R, in
        place: c·sin²·R + c·cos²·R → c·R, c·cos²·R - c·sin²·R → c·cos(2a)·R, c·cosh²·R -
        c·sinh²·R → c·R, c·cosh²·R + c·sinh²·R → c·cosh(2a)·R (R's coefficient collects under
        key -1 when R is 1)."""
        found: dict[tuple, tuple[str, int]] = {}
        pairs = {("cos", "sin"): (1, None, -1, "cos"), ("cosh", "sinh"): (-1, None, 1, "cosh")}
        for t in list(terms):
            kind, data = self.nodes[t]
            factors = data[1] if kind == MUL else ()
            for j, (base, e) in enumerate(factors):
                fkind, fdata = self.nodes[base]
                if fkind != FN or fdata[0] not in ("sin", "cos", "sinh", "cosh") or self.value(e) != 2:
                    continue
                rest = factors[:j] + factors[j + 1:]
                key = ("h" if fdata[0].endswith("h") else "", fdata[1][0], rest)
                other = found.get(key)
                if other is None or other[0] == fdata[0]:
                    found[key] = (fdata[0], t)
                    break
                names = tuple(sorted((fdata[0], other[0])))
                ratio = terms[t] / terms[other[1]] if fdata[0] > other[0] else terms[other[1]] / terms[t]
                same, _, opposite, double = pairs[names]  # ratio of the sin-like to the cos-like term
                c = terms[other[1]] if other[0] == names[0] else terms[t]  # the cos-like coefficient
                if ratio == same:
                    r = self._mul_node(ONE, rest) if rest else -1
                elif ratio == opposite:
                    r = self.mul([(self.fn(double, (self.scale(2, fdata[1][0]),)), self.one),
                                  *[(b, ee) for b, ee in rest]])
                else:
                    found[key] = (fdata[0], t)
                    break
                terms.pop(t)
                terms.pop(other[1])
                terms[r] = terms.get(r, ZERO) + c
                del found[key]
                break

    def _one_minus_square(self, terms: dict[int, Any], const: Any) -> Any:
        """c - c·sin(a)^2 → c·cos(a)^2 (and cos, cosh² - 1 = sinh², 1 + sinh² = cosh²), in place;
        returns what is left of the constant."""
        for t, c in list(terms.items()):
            kind, data = self.nodes[t]
            if kind != MUL or data[0] != 1 or len(data[1]) != 1 or self.value(data[1][0][1]) != 2:
                continue
            base = self.nodes[data[1][0][0]]
            if base[0] != FN:
                continue
            name, sign = {"sin": ("cos", -1), "cos": ("sin", -1), "cosh": ("sinh", -1),
                          "sinh": ("cosh", 1)}.get(base[1][0], (None, 0))
            if name is not None and c == sign * const:
                other = self.mul([(self.fn(name, base[1][1]), self.num(2))])
                del terms[t]
                # k - k·sin² = k·cos²; c·cosh² - c = c·sinh²; c·sinh² + c = c·cosh²
                terms[other] = terms.get(other, ZERO) + (const if name in ("cos", "sin") else c)
                return ZERO
        return const

    def scale(self, c: Any, t: int) -> int:
        """c·t for a number c."""
        c = number(c)
        if c == 1:
            return t
        if c == 0:
            return self.num(ZERO)
        kind, data = self.nodes[t]
        if kind == NUM:
            return self.num(c * data)
        if kind == ADD:
            return self.add([(c, t)])
        if kind == MUL:
            return self._mul_node(number(c * data[0]), data[1])
        return self._mul_node(c, ((t, self.one),))

    def _mul_node(self, coeff: Any, factors: tuple) -> int:
        if coeff == 0:
            return self.num(ZERO)
        if not factors:
            return self.num(coeff)
        if coeff == 1 and len(factors) == 1 and factors[0][1] == self.one:  # the only NUM 1
            return factors[0][0]
        key = (MUL, coeff, factors)
        found = self._index.get(key)
        if found is not None:
            return found
        children = tuple([x for f in factors for x in f])
        return self._new(MUL, (coeff, factors), key, "", children, repr(coeff), coeff)

    def _times(self, e: int, k: Any) -> int:
        """An exponent times a number."""
        return self.scale(k, e)

    def mul(self, items: list[tuple[int, Any]]) -> int:
        """∏ expression^exponent (an exponent is a number or an expression id), flattened, the
        numbers folded into one coefficient, equal bases merged, exp(a)·exp(b) → exp(a + b)."""
        if len(items) == 2 and items[0][1] == items[1][1] == self.one:  # k·sin(x): the common case
            (a, _), (b, _) = items
            kinds = (self.nodes[a][0], self.nodes[b][0])
            if kinds[0] == NUM and kinds[1] in (ATOM, FN):
                return self.scale(self.nodes[a][1], b)
            if kinds[1] == NUM and kinds[0] in (ATOM, FN):
                return self.scale(self.nodes[b][1], a)
        coeff: Fraction | float = ONE
        bases: dict[int, list[tuple[Any, int]]] = {}
        exps: list[tuple[Any, int]] = []  # exp(a)^k: k·a, collected into one exp
        stack = list(items)
        while stack:
            t, e = stack.pop()
            ev = self.value(e)
            kind, data = self.nodes[t]
            if kind == NUM:
                if _is_int(ev) and (data != 0 or ev > 0) and abs(ev) <= 256:
                    coeff *= _ipow(data, ev)
                    continue
                if ev is not None and data in (0, 1) and ev > 0:
                    coeff *= data
                    continue
            if kind == MUL and (_is_int(ev) or (ev is not None and self._even_root(data[1]))):
                k = data[0]
                if _is_int(ev):
                    coeff *= _ipow(k, ev)
                elif k != 1:
                    stack.append((self.num(k), e))
                stack.extend((b, self._times(ee, ev)) for b, ee in data[1])
                continue
            if kind == FN and data[0] == "exp":
                arg = data[1][0]
                exps.append((ONE, self.mul([(arg, self.one), (e, self.one)])) if ev is None else (ev, arg))
                continue
            bases.setdefault(t, []).append((ONE, e))
        if len(exps) == 1 and exps[0][0] == 1:
            bases.setdefault(self.fn("exp", (exps[0][1],)), []).append((ONE, self.one))
        elif exps:
            merged = self.fn("exp", (self.add(exps),))
            if self.nodes[merged][0] == NUM:
                coeff *= self.nodes[merged][1]
            else:
                bases.setdefault(merged, []).append((ONE, self.one))
        factors = []
        for b, parts in bases.items():
            e = parts[0][1] if len(parts) == 1 else self.add(parts)
            ev = self.value(e)
            if ev == 0:
                continue
            kind, data = self.nodes[b]
            if kind == NUM and _is_int(ev) and abs(ev) <= 256 and data != 0:
                coeff *= _ipow(data, ev)
                continue
            if kind == MUL and len(parts) > 1:  # merged roots: (x·y)^(1/2)·(x·y)^(1/2) → x·y
                k = self.mul([(b, e)])
                kk, kd = self.nodes[k]
                if kk == MUL and kd[1] != ((b, e),):
                    coeff *= kd[0]
                    factors.extend(kd[1])
                    continue
            factors.append((b, e))
        coeff = number(coeff)
        if coeff == 0:
            return self.num(ZERO)
        # merge repeated bases again (a root's factors may meet the others) and order them
        merged_factors: dict[int, list] = {}
        for b, e in factors:
            merged_factors.setdefault(b, []).append((ONE, e))
        final = []
        for b, parts in merged_factors.items():
            e = parts[0][1] if len(parts) == 1 else self.add(parts)
            if self.value(e) != 0:
                final.append((b, e))
        if abs(coeff) != 1 and len(final) > 1:
            coeff, final = self._double_angle(coeff, final)
        selected = self._selection(coeff, final)
        if selected is not None:
            return selected
        final.sort(key=lambda f: (self.keys[f[0]], self.keys[f[1]]))
        return self._mul_node(coeff, tuple(final))

    def _selection(self, coeff: Any, factors: list[tuple[int, int]]) -> int | None:
        """g·where(c, 1, 0) → where(c, g, 0) (and where(c, 0, 1) likewise): the derivative of
        where(c, a, b) is where(c, a', b'), so the branch not taken contributes nothing, even
        where its own derivative is not finite (a nan times the 0 would be nan)."""
        for k, (b, e) in enumerate(factors):
            kind, data = self.nodes[b]
            if kind != FN or data[0] != "where" or self.value(e) != 1:
                continue
            branches = (self.value(data[1][1]), self.value(data[1][2]))
            if branches not in ((1, 0), (0, 1)) or (coeff == 1 and len(factors) == 1):
                continue
            rest = self.mul([(self.num(coeff), self.one), *factors[:k], *factors[k + 1:]])
            chosen = (rest, self.num(ZERO)) if branches == (1, 0) else (self.num(ZERO), rest)
            return self.fn("where", (data[1][0], *chosen))
        return None

    def _double_angle(self, coeff: Any, factors: list[tuple[int, int]]) -> tuple[Any, list]:
        """2·sin(a)·cos(a) → sin(2·a), 2·sinh(a)·cosh(a) → sinh(2·a): shorter where the
        coefficient is not ±1 (it halves)."""
        plain = {}
        for b, e in factors:
            kind, data = self.nodes[b]
            if kind == FN and data[0] in ("sin", "cos", "sinh", "cosh") and self.value(e) == 1:
                plain[(data[0], data[1][0])] = b
        for sin, cos in (("sin", "cos"), ("sinh", "cosh")):
            for (name, arg), b in list(plain.items()):
                partner = plain.get((cos, arg))
                if name == sin and partner is not None:
                    factors = [f for f in factors if f[0] not in (b, partner)]
                    double = self.fn(sin, (self.scale(2, arg),))
                    same = [k for k, f in enumerate(factors) if f[0] == double]  # sin(2·x) met again
                    if same:
                        k = same[0]
                        factors[k] = (double, self.add([(ONE, factors[k][1]), (ONE, self.one)]))
                    else:
                        factors.append((double, self.one))
                    return number(Fraction(coeff) / 2) if not isinstance(coeff, float) else coeff / 2, factors
        return coeff, factors

    def _even_root(self, factors: tuple) -> bool:
        """(b^e)^k = b^(e·k) where b^e is defined, when each e has an even denominator (b ≥ 0)."""
        for _, e in factors:
            v = self.value(e)
            if not (isinstance(v, Fraction) and v.denominator % 2 == 0):
                return False
        return True

    def power(self, base: int, exponent: int) -> int:
        return self.mul([(base, exponent)])

    # --- functions ----------------------------------------------------------------------------

    def fn(self, op: str, args: tuple[int, ...], attr: Any = None) -> int:
        """op(args) with the identities that hold wherever the input is defined."""
        key = (FN, op, args, None if attr is None else _attr_key(attr))
        found = self._index.get(key)
        if found is not None:
            return found
        nodes = self.nodes
        if op in _SPECIAL or (args and not attr and all(nodes[a][0] == NUM for a in args) and OPS[op].fold):
            simpler = self._simpler(op, args, attr)
            if simpler is not None:
                return simpler
        return self._new(FN, (op, args, attr), key, op, args, repr(key[3]))

    def _simpler(self, op: str, args: tuple[int, ...], attr: Any) -> int | None:
        """A number for an operation on numbers; the identities below; or None."""
        entry = OPS[op]
        values = [self.value(a) for a in args]
        if entry.fold and not attr and all(v is not None for v in values):
            import numpy as np

            with np.errstate(all="ignore"):
                result = float(entry.evaluate(*[np.float64(v) for v in values]))
            if math.isfinite(result):
                return self.num(result)
        if op == "sqrt":
            return self.power(args[0], self.num(HALF))
        if op in ("log2", "log10"):  # log(a)/log(2): its factor can then be pulled out of a sum
            base = self.num(2 if op == "log2" else 10)
            return self.mul([(self.fn("log", args), self.one), (self.fn("log", (base,)), self.num(-1))])
        first = self.nodes[args[0]]
        if op == "log":
            if first[0] == FN and first[1][0] == "exp":
                return first[1][1][0]
            if values[0] == 1:
                return self.num(ZERO)
            if first == (ATOM, ("const", (math.e, "e"))):
                return self.num(ONE)
        if op == "exp":
            if values[0] == 0:
                return self.num(ONE)
            if first[0] == FN and first[1][0] == "log":
                self.conditions[first[1][1][0]] = None
                return first[1][1][0]
            if first[0] == ADD:  # exp(x + 2·log(a)) = a^2·exp(x), for a > 0
                logs = [(t, c) for t, c in first[1][1]
                        if self.nodes[t][0] == FN and self.nodes[t][1][0] == "log"]
                if logs:
                    for t, _ in logs:
                        self.conditions[self.nodes[t][1][1][0]] = None
                    rest = self.add([(first[1][0], self.one)] + [(c, t) for t, c in first[1][1]
                                                                 if (t, c) not in logs])
                    return self.mul([(self.nodes[t][1][1][0], self.num(c)) for t, c in logs]
                                    + [(self.fn("exp", (rest,)), self.one)])
        if op in ("abs", "relu") and self.nonneg[args[0]]:  # abs(x^2 + 1) = x^2 + 1
            return args[0]
        if op == "where" and values[0] is not None:
            return args[1] if values[0] else args[2]
        return None

    def apply(self, op: str, args: tuple[int, ...], attr: Any = None) -> int:
        """Any operation of the op table on canonical arguments."""
        if op == "add":
            return self.add([(ONE, args[0]), (ONE, args[1])])
        if op == "sub":
            return self.add([(ONE, args[0]), (-ONE, args[1])])
        if op == "neg":
            return self.add([(-ONE, args[0])])
        if op == "mul":
            return self.mul([(args[0], self.one), (args[1], self.one)])
        if op == "div":
            return self.mul([(args[0], self.one), (args[1], self.num(-1))])
        if op == "pow":
            return self.mul([(args[0], args[1])])
        return self.fn(op, args, attr)

    def reached(self, root: int) -> list[int]:
        """The ids an expression is made of, children first."""
        seen = {root}
        nodes = self.nodes
        for i in range(root, -1, -1):
            if i in seen:
                kind, data = nodes[i]
                if kind == FN:
                    seen.update(data[1])
                elif kind == MUL:
                    for factor in data[1]:
                        seen.update(factor)
                elif kind == ADD:
                    seen.update([t for t, _ in data[1]])
        return sorted(seen)

    def children(self, i: int) -> tuple[int, ...]:
        kind, data = self.nodes[i]
        if kind == FN:
            return data[1]
        if kind == MUL:
            return tuple(x for f in data[1] for x in f)
        if kind == ADD:
            return tuple(t for t, _ in data[1])
        return ()


# functions with identities in Store._simpler
_SPECIAL = {"sqrt", "log", "log2", "log10", "exp", "where", "abs", "relu"}
_SUMS = {"add": (1, 1), "sub": (1, -1), "neg": (-1,)}
_PRODUCTS = {"mul": (1, 1), "div": (1, -1)}
_GROUP = {**{op: _SUMS for op in _SUMS}, **{op: _PRODUCTS for op in _PRODUCTS}}


def canonical(graph: Graph, root: int, store: Store | None = None) -> tuple[Store, int]:
    """The canonical form of a graph's node, in a (new or given) store. Nodes are read in
    topological order; a sum whose only use is in another sum is handed up as a list of terms
    (likewise products), so a chain of n sums costs O(n), not O(n²)."""
    store = store or Store()
    nodes = graph.nodes
    reach = sorted(graph.ancestors([root]))
    uses = [0] * (root + 1)  # how often a node is an argument, and of which operation (last)
    user: list[str | None] = [None] * (root + 1)
    for n in reach:
        node = nodes[n]
        for a in node.args:
            uses[a] += 1
            user[a] = node.op
    canon: list[int] = [0] * (root + 1)
    pending: dict[int, tuple[Any, list]] = {}
    one = store.one
    for n in reach:
        node = nodes[n]
        op = node.op
        group = _GROUP.get(op)
        if group is not None:
            signs = group[op]
            handed_up = n != root and uses[n] == 1 and user[n] in group
            if not handed_up and (not pending or all(a not in pending for a in node.args)):  # alone
                if group is _SUMS:
                    canon[n] = store.add([(s, canon[a]) for a, s in zip(node.args, signs, strict=True)])
                else:
                    canon[n] = store.mul([(canon[a], one if s == 1 else store.num(-1))
                                          for a, s in zip(node.args, signs, strict=True)])
                continue
            lists = []
            for a, s in zip(node.args, signs, strict=True):
                if a in pending:
                    scale, items = pending.pop(a)
                    lists.append((scale * s, items))
                else:
                    lists.append((s, [(ONE, canon[a]) if group is _SUMS else (canon[a], store.one)]))
            lists.sort(key=lambda si: -len(si[1]))
            scale, items = lists[0]
            for s, more in lists[1:]:
                factor = s * scale  # signs are ±1: s / scale
                if group is _SUMS:
                    items.extend((c * factor, t) for c, t in more)
                else:
                    items.extend((t, store._times(e, factor)) for t, e in more)
            if handed_up:
                pending[n] = (scale, items)
            elif group is _SUMS:
                canon[n] = store.add([(c * scale, t) for c, t in items])
            else:
                canon[n] = store.mul([(t, store._times(e, scale)) for t, e in items])
        elif op == "const":
            value, label = node.attr
            if label is None and not hasattr(value, "shape"):
                canon[n] = store.num(value)
            else:
                canon[n] = store.atom("const", node.attr, label or f"array{n}")
        elif not node.args and op not in OPS:  # input, sym, ref: named leaves
            canon[n] = store.atom(op, node.attr, _leaf_name(node))
        elif not node.args:  # zeros(2), linspace(...): an operation with parameters only
            canon[n] = store.fn(op, (), node.attr)
        elif op == "pow":
            canon[n] = store.mul([(canon[node.args[0]], canon[node.args[1]])])
        else:
            canon[n] = store.fn(op, tuple(canon[a] for a in node.args), node.attr)
    return store, canon[root]


def _leaf_name(node: Any) -> str:
    attr = node.attr
    if isinstance(attr, str):
        return attr
    text = getattr(attr, "text", None)
    return text if text is not None else f"{node.op}{getattr(attr, 'node', '')}"


def factor_common(store: Store, root: int) -> int:
    """Common factors pulled out of every sum (x^x·log(x) + x^x → x^x·(log(x) + 1)): a base
    that every term has, to the least positive power they share (or the same symbolic power).
    Rebuilt bottom up in the store's order (no recursion)."""
    new: dict[int, int] = {}
    for i in store.reached(root):
        kind, data = store.nodes[i]
        if kind == NUM or kind == ATOM:
            new[i] = i
            continue
        if kind == MUL:
            new[i] = _shortest_product(store, data[0], [(new[b], new[e]) for b, e in data[1]], i)
        elif all(new[c] == c for c in store.children(i)):  # nothing below changed: no rebuild
            new[i] = _shortest(store, i) if kind == ADD else i
        elif kind == FN:
            new[i] = store.fn(data[0], tuple(new[a] for a in data[1]), data[2])
        else:
            rebuilt = store.add([(data[0], store.one)] + [(c, new[t]) for t, c in data[1]])
            new[i] = _shortest(store, rebuilt)
    return new[root]


def _shortest_product(store: Store, coeff: Any, factors: list[tuple[int, int]], old: int) -> int:
    """A product as it prints shortest: a sum in its denominator over a common denominator when
    that cancels (1/(y·(x^2/y^2 + 1)) → y/(x^2 + y^2))."""
    built = store.mul(factors + [(store.num(coeff), store.one)]) if factors != list(store.nodes[old][1][1]) \
        else old
    for j, (b, e) in enumerate(factors):
        v = store.value(e)
        if store.nodes[b][0] == ADD and _is_int(v) and v < 0:
            together = _together(store, b, pull=False)
            if together != b:
                changed = factors[:j] + [(together, e)] + factors[j + 1:]
                trial = store.mul(changed + [(store.num(coeff), store.one)])
                if store.ops[trial] < store.ops[built]:
                    built, factors = trial, changed
    return built


def _shortest(store: Store, i: int) -> int:
    """A sum as it prints shortest: with its common factors pulled out, or over a common
    denominator (1/(x + 1) - x/(x + 1)^2 → 1/(x + 1)^2)."""
    factored = _pull_common(store, i)
    together = _together(store, i)
    return together if store.ops[together] < store.ops[factored] else factored


def _together(store: Store, i: int, pull: bool = True) -> int:
    """The sum over the common denominator of its terms (their whole negative powers), the
    numerators multiplied out; i itself when there is no denominator or it grows too much."""
    kind, data = store.nodes[i]
    if kind != ADD:
        return i
    per_term = [(c, _factor_dict(store, t)) for t, c in data[1]]
    if data[0] != 0:
        per_term.append((data[0], {}))
    denominator: dict[int, Any] = {}
    for _, f in per_term:
        for b, e in f.items():
            v = store.value(e)
            if _is_int(v) and v < 0:
                denominator[b] = min(denominator.get(b, 0), v)
    if not denominator:
        return i
    items: list[tuple[Any, int]] = []
    for c, f in per_term:
        factors = []
        for b, e in f.items():
            if b in denominator:
                v = store.value(e)
                if v is None:
                    return i
                if v != denominator[b]:
                    factors.append((b, store.num(v - denominator[b])))
            else:
                factors.append((b, e))
        factors += [(b, store.num(-d)) for b, d in denominator.items() if b not in f]
        expanded = _multiplied_out(store, c, factors)
        if expanded is None:
            return i
        items += expanded
    numerator = store.add(items)
    numerator = _pull_common(store, numerator) if pull else numerator
    return store.mul([(numerator, store.one)] + [(b, store.num(d)) for b, d in denominator.items()])


def _factor_dict(store: Store, t: int) -> dict[int, int]:
    kind, data = store.nodes[t]
    return dict(data[1]) if kind == MUL else {t: store.one}


def _multiplied_out(store: Store, coeff: Any, factors: list[tuple[int, int]],
                    most: int = 32, merge: bool = False) -> list[tuple[Any, int]] | None:
    """coeff·∏ factors as a list of terms, the sums among them (to the power 1) multiplied
    out; None when that makes more than `most` terms."""
    partials: list[tuple[Any, list]] = [(coeff, [])]
    for b, e in factors:
        kind, data = store.nodes[b]
        v = store.value(e)
        if kind == ADD and v == 1:
            terms = [(cc, [(tt, store.one)]) for tt, cc in data[1]]
            if data[0] != 0:
                terms.append((data[0], []))
            for _ in range(v):
                partials = [(pc * cc, pf + tf) for pc, pf in partials for cc, tf in terms]
                if len(partials) > most:
                    return None
                if merge:  # like partial products meet at once: (x + 1)^4 stays 5 terms, not 16
                    partials = _merged(store, partials)
        else:
            partials = [(pc, pf + [(b, e)]) for pc, pf in partials]
    return [(pc, store.mul(pf)) for pc, pf in partials]


def _has_sum_factor(store: Store, t: int) -> bool:
    kind, data = store.nodes[t]
    return kind == MUL and any(store.nodes[b][0] == ADD and store.value(e) in (1, 2, 3, 4)
                               for b, e in data[1])


def _merged(store: Store, partials: list[tuple[Any, list]]) -> list[tuple[Any, list]]:
    out: dict[int, list] = {}
    for c, f in partials:
        key = store.mul(f)
        if key in out:
            out[key][0] += c
        else:
            out[key] = [c, [(key, store.one)]]
    return [(c, f) for c, f in out.values()]


def _pull_common(store: Store, i: int) -> int:
    kind, data = store.nodes[i]
    if kind != ADD or data[0] != 0:
        return i
    per_term = []
    for t, c in data[1]:
        tk, td = store.nodes[t]
        per_term.append((c, dict(td[1]) if tk == MUL else {t: store.num(ONE)}))
    common: dict[int, int] = {}
    for b in per_term[0][1]:
        exps = [f.get(b) for _, f in per_term]
        if any(x is None for x in exps):
            continue
        values = [store.value(x) for x in exps]
        if all(v is not None for v in values):
            least, most = min(values), max(values)
            if least > 0:
                common[b] = store.num(least)
            elif most < 0 and (store.constant[b] or least == most):
                common[b] = store.num(most)  # (log(x) + 1)/log(2), not log(x)/log(2) + 1/log(2)
        elif all(x == exps[0] for x in exps):
            common[b] = exps[0]
        else:  # x^(s - 1)·a + x^s·b → x^(s - 1)·(a + x·b): exponents that differ by numbers
            apart = [store.value(store.add([(ONE, x), (-ONE, exps[0])])) for x in exps]
            if all(_is_int(d) for d in apart):
                common[b] = store.add([(ONE, exps[0]), (min(apart), store.one)])
    if not common:
        return i
    coefficients = [c for c, _ in per_term]
    content = ONE  # the numbers' common part too: 2·x^x·(log(x) + 1), not x^x·(2·log(x) + 2)
    if all(isinstance(c, (int, Fraction)) for c in coefficients):
        top = math.gcd(*(Fraction(c).numerator for c in coefficients))
        bottom = math.lcm(*(Fraction(c).denominator for c in coefficients))
        content = number(Fraction(top, bottom) * (-1 if all(c < 0 for c in coefficients) else 1))
    per_term = [(number(c / content) if content != 1 else c, f) for c, f in per_term]
    rest = []
    for c, f in per_term:
        items = [(b, e) for b, e in f.items() if b not in common]
        items += [(b, store.add([(ONE, f[b]), (-ONE, e)])) for b, e in common.items()]
        rest.append((c, store.mul(items)))
    inner = store.add(rest)
    pulled = [(b, e) for b, e in common.items()]
    return store.mul([*pulled, (inner, store.one), (store.num(content), store.one)])


def canonical_form(graph: Graph, root: int, factor: bool = True, expand: bool = False,
                   limit: int | None = None) -> tuple[Store, int]:
    """canonical(), then common factors pulled out (`factor`), or products of sums multiplied
    out (`expand`: the expanded sum), or neither; past `limit` places, TooLarge."""
    store, i = canonical(graph, root, Store(limit))
    if expand:
        return store, expand_products(store, i)
    return store, factor_common(store, i) if factor else i


def expand_products(store: Store, root: int, most: int = 256) -> int:
    """Products of sums multiplied out, sums to small whole powers too ((x + 1)^2·x →
    x^3 + 2·x^2 + x), bottom up; a product that would make more than `most` terms is kept."""
    new: dict[int, int] = {}
    for i in store.reached(root):
        kind, data = store.nodes[i]
        if kind in (NUM, ATOM):
            new[i] = i
        elif kind == FN:
            new[i] = store.fn(data[0], tuple(new[a] for a in data[1]), data[2])
        elif kind == ADD:
            new[i] = store.add([(data[0], store.one)] + [(c, new[t]) for t, c in data[1]])
        else:
            factors = []
            for b, e in data[1]:
                v = store.value(e)
                if store.nodes[new[b]][0] == ADD and _is_int(v) and 1 < v <= 4:
                    factors += [(new[b], store.one)] * v  # (x + 1)^2 as (x + 1)·(x + 1)
                else:
                    factors.append((new[b], new[e]))
            if any(store.nodes[b][0] == ADD and store.value(e) == 1 for b, e in factors):
                terms = _multiplied_out(store, data[0], factors, most, merge=True)
                if terms is not None:
                    result = store.add(terms)
                    if any(_has_sum_factor(store, t) for t in store.children(result)):
                        result = expand_products(store, result, most)  # sqrt(u)^2 made a new sum factor
                    new[i] = result
                    continue
            new[i] = store.mul([(new[b], new[e]) for b, e in data[1]] + [(store.num(data[0]), store.one)])
    return new[root]
