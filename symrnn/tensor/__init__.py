"""The tensor language, imported as ``import symrnn.tensor as T`` (Theano's names).

Example::

    >>> import symrnn, symrnn.tensor as T
    >>> x = T.matrix("x")
    >>> f = symrnn.function([x], T.nnet.sigmoid(x))
"""

from symrnn.gradient import (  # noqa: F401  (Theano's T.grad, T.Rop ...)
    Lop,
    Rop,
    consider_constant,
    disconnected_grad,
    grad,
    grad_clip,
    grad_scale,
    hessian,
    jacobian,
    verify_grad,
    zero_grad,
)
from symrnn.graph import Constant, SharedVariable, Variable  # noqa: F401
from symrnn.ops.blas import *  # noqa: F403
from symrnn.ops.elemwise import *  # noqa: F403
from symrnn.ops.elemwise import abs_ as abs  # noqa: F401, A004
from symrnn.ops.elemwise import pow  # noqa: F401, A004
from symrnn.ops.elemwise import round_ as round  # noqa: F401, A004
from symrnn.ops.gradops import specify_shape  # noqa: F401
from symrnn.ops.indexing import *  # noqa: F403
from symrnn.ops.nnet import log_softmax, softmax  # noqa: F401
from symrnn.ops.reduce import *  # noqa: F403
from symrnn.ops.reduce import max, min, sum  # noqa: F401, A004
from symrnn.ops.shape import *  # noqa: F403
from symrnn.tensor import nnet, shared_randomstreams  # noqa: F401
from symrnn.tensor import variable as _variable  # noqa: F401  (attaches operators to Variable)
from symrnn.tensor.basic import *  # noqa: F403


