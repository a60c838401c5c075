"""adiff: derivatives of composed expressions, node by node (forward values, local partials,
adjoints), from a command line or from Python.

    from autodiff_cli import grad
    result = grad("exp(sin(x^2))", x=2)
    result.gradients["f"]["x"]   # -1.226664708936842
"""

from .api import GradResult, grad
from .errors import AdiffError
from .parse import parse

__all__ = ["AdiffError", "GradResult", "grad", "parse"]
__version__ = "0.1.0"
