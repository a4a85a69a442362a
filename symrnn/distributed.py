"""Beyond one device: a function compiled with ``backend="jax"`` as a pure JAX function, and data-parallel
training over a device mesh with JAX's sharding (``docs/scale.md``).

symrnn writes no distributed runtime of its own.  A training step compiled for
JAX is a pure function ``(inputs, parameters) -> (outputs, new parameters)``
(:func:`pure_step`); :func:`data_parallel` compiles it once more with
``jax.jit`` and shardings: the batch axis of each input is split over the
devices of a :class:`jax.sharding.Mesh`, the parameters are replicated, and
XLA's partitioner turns the gradient's sum over the batch into a sum across
devices.  The new parameters are the same on every device, and equal to a
single-device step's up to the order of floating-point sums.

This module imports JAX only when it is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn.compile.backends.jax_backend import JaxFunction, enable_x64
from symrnn.compile.function import Function
from symrnn.graph import SharedVariable, Variable, describe, user_line


class PureStep:
    """A function compiled with ``backend="jax"``, as the pure function that JAX can transform.

    ``step(inputs, params)`` takes the input values (in the function's input
    order) and the values of :attr:`params` (the shared variables the function
    reads, then those it only updates), and returns ``(outputs, new_params)``: the outputs, and the values
    of :attr:`params` after the function's updates (unchanged where a variable
    has no update).  It changes no shared variable.  Call it inside
    ``jax.enable_x64(True)`` when you transform it (``jax.grad``, ``jax.jit``),
    so that float64 and int64 stay what the graph says; inputs that set sizes
    (:attr:`static`, and parameters at :attr:`static_params`) must be concrete values.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> import jax  # doctest: +SKIP
        >>> w = symrnn.shared(np.array([1.0, 2.0]), name="w")
        >>> x = T.dvector("x")
        >>> f = symrnn.function([x], (w * x).sum(), updates=[(w, w - x)], backend="jax")  # doctest: +SKIP
        >>> step = pure_step(f)  # doctest: +SKIP
        >>> with jax.enable_x64(True):  # doctest: +SKIP
        ...     (loss,), (w_new,) = step([np.ones(2)], step.param_values())
        ...     dw = jax.grad(lambda p: step([np.ones(2)], p)[0][0])(step.param_values())
        >>> float(loss), np.asarray(w_new), np.asarray(dw[0])  # doctest: +SKIP
        (3.0, array([0., 1.]), array([1., 1.]))
    """

    def __init__(self, function: Function) -> None:
        if not isinstance(function, Function):
            raise TypeError(f"pure_step takes a compiled symrnn Function, got {function!r} (at {user_line()})")
        generated = function._generated
        if function.backend.name != "jax" or generated is None or not isinstance(generated.fn, JaxFunction):
            raise ValueError(f"pure_step needs a function compiled with backend='jax'; {function!r} runs on the "
                             f"{function.backend.name} backend (at {user_line()})")
        inputs_updated = [target for target, _ in function.updates if not isinstance(target, SharedVariable)]
        if inputs_updated:
            raise ValueError(f"pure_step: {describe(inputs_updated[0])} is an input with an update (In(update=...)); "
                             f"make it a shared variable (at {user_line()})")
        self.function = function
        self.inputs: list[Variable] = list(function.inputs)
        read = list(function._compiled_shared)
        known = {id(p) for p in read}
        # the shared variables read, then those only written (an update that does not read its target)
        self.params: list[SharedVariable] = read + [t for t, _ in function.updates if id(t) not in known]
        self._n_read = len(read)
        static = sorted(generated.fn.static)  # positions among the inputs, then the shared variables read
        self.static: tuple[int, ...] = tuple(i for i in static if i < len(self.inputs))
        self.static_params: tuple[int, ...] = tuple(i - len(self.inputs) for i in static if i >= len(self.inputs))
        self._fn = generated.fn.fn
        self._jax = generated.fn._jax
        self._x64 = enable_x64(self._jax)
        position = {id(p): k for k, p in enumerate(self.params)}
        self._n_outputs = len(function.outputs)
        self._updates = [position[id(target)] for target, _ in function.updates]  # the parameter each replaces

    def param_values(self) -> list[Any]:
        """The current values of :attr:`params`, as device arrays (no copy where they are on the device)."""
        backend = self.function.backend
        return [backend.load_shared(p) for p in self.params]

    def store(self, values: Sequence[Any]) -> None:
        """Make ``values`` (one per parameter) the shared variables' values, on the device."""
        backend = self.function.backend
        for p, value in zip(self.params, values):
            backend.store_shared(p, value)

    def __call__(self, inputs: Sequence[Any], params: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        inputs = list(inputs)
        if len(inputs) != len(self.inputs) or len(params) != len(self.params):
            raise TypeError(f"pure step: expected {len(self.inputs)} input(s) and {len(self.params)} parameter "
                            f"value(s), got {len(inputs)} and {len(params)}")
        for i in self.static:
            inputs[i] = np.asarray(inputs[i], dtype=self.inputs[i].dtype)[()]  # concrete: it sets a size
        params = list(params)
        for k in self.static_params:
            params[k] = np.asarray(params[k], dtype=self.params[k].dtype)[()]
        with self._x64(True):
            results = self._fn(*inputs, *params[: self._n_read])
        outputs = list(results[: self._n_outputs])
        new = list(params)
        for k, value in zip(self._updates, results[self._n_outputs:]):
            new[k] = value
        return outputs, new


def pure_step(function: Function) -> PureStep:
    """``function`` (compiled with ``backend="jax"``) as a pure function ``(inputs, params) -> (outputs,
    new params)``, for ``jax.grad``, ``jax.jit``, ``jax.vmap`` and sharding.  See :class:`PureStep`."""
    return PureStep(function)


class DataParallel:
    """A training step run data-parallel over the devices of a mesh; see :func:`data_parallel`.

    Calling it with the inputs' values (the *global* batch, the same on every
    process) runs one step: the batch is split over the mesh's ``axis`` and
    each device computes on its part, while the parameters (every shared
    variable the function reads) are replicated on every device.  The
    gradients are whatever the compiled graph computes, a sum (or mean) over
    the whole batch: XLA's partitioner adds the sum across devices where the
    graph contracts the batch axis, so no collective is written by hand.
    The updated parameters stay on the devices, replicated, in the shared
    variables (``get_value()`` copies one replica back).  The outputs are
    replicated, and come back as NumPy arrays.
    """

    def __init__(self, function: Function, mesh: Any, batch_axes: Any = 0, axis: str | None = None) -> None:
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        self.step = PureStep(function)
        if self.step.static_params:
            raise ValueError(f"data_parallel: shared variable {describe(self.step.params[self.step.static_params[0]])} "
                             f"sets a size in the step, so its value cannot be a traced parameter; make it an input "
                             f"(at {user_line()})")
        if not hasattr(mesh, "axis_names"):
            raise TypeError(f"data_parallel: mesh must be a jax.sharding.Mesh (jax.make_mesh((n,), ('batch',))), "
                            f"got {mesh!r} (at {user_line()})")
        self.mesh = mesh = _automatic(mesh)
        self.axis = axis if axis is not None else mesh.axis_names[0]
        if self.axis not in mesh.axis_names:
            raise ValueError(f"data_parallel: the mesh has no axis {self.axis!r}; its axes are {mesh.axis_names} "
                             f"(at {user_line()})")
        self.n_shards = int(mesh.shape[self.axis])
        self.batch_axes = self._batch_axes(batch_axes)
        self._jax = jax
        self._x64 = enable_x64(jax)
        replicated = NamedSharding(mesh, PartitionSpec())
        self.input_shardings = [replicated if a is None else
                                NamedSharding(mesh, PartitionSpec(*([None] * a), self.axis))
                                for a in self.batch_axes]
        self.param_sharding = replicated
        dynamic = [i for i in range(len(self.step.inputs)) if i not in self.step.static]
        self._dynamic = dynamic

        def run(dynamic_values: tuple, params: tuple, static_values: tuple) -> tuple:
            values: list[Any] = [None] * len(self.step.inputs)
            for i, v in zip(dynamic, dynamic_values):
                values[i] = v
            for i, v in zip(self.step.static, static_values):
                values[i] = v
            outputs, new = self.step(values, list(params))
            return tuple(outputs), tuple(new)

        self._run = jax.jit(run, static_argnums=(2,),
                            in_shardings=(tuple(self.input_shardings[i] for i in dynamic),
                                          tuple(replicated for _ in self.step.params)),
                            out_shardings=(tuple(replicated for _ in function.outputs),
                                           tuple(replicated for _ in self.step.params)))

    def _batch_axes(self, batch_axes: Any) -> list[int | None]:
        """One batch axis (or ``None``: replicated) per input, from an int, a sequence or a dict by input."""
        inputs = self.step.inputs
        if isinstance(batch_axes, dict):
            axes: list[int | None] = [0 if v.ndim > 0 else None for v in inputs]
            for key, axis in batch_axes.items():
                matches = [i for i, v in enumerate(inputs) if key is v or key == v.name or key == i]
                if not matches:
                    raise ValueError(f"data_parallel: batch_axes names {key!r}, which is not an input of the "
                                     f"function (at {user_line()})")
                axes[matches[0]] = axis
        elif isinstance(batch_axes, (list, tuple)):
            if len(batch_axes) != len(inputs):
                raise ValueError(f"data_parallel: {len(batch_axes)} batch axes for {len(inputs)} inputs "
                                 f"(at {user_line()})")
            axes = list(batch_axes)
        else:
            axes = [batch_axes if v.ndim > 0 else None for v in inputs]
        for i, (v, axis) in enumerate(zip(inputs, axes)):
            if i in self.step.static and axis is not None:
                raise ValueError(f"data_parallel: input {describe(v)} sets a size, so it cannot be split over "
                                 f"devices; give it batch axis None (at {user_line()})")
            if axis is not None and not 0 <= axis < v.ndim:
                raise ValueError(f"data_parallel: batch axis {axis} of input {describe(v)}, which has {v.ndim} "
                                 f"dimension(s) (at {user_line()})")
        return axes

    def _global(self, value: Any, sharding: Any) -> Any:
        """A global array with ``sharding``, made from the same host value on every process."""
        value = np.asarray(value)
        return self._jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    def _arguments(self, values: Sequence[Any]) -> tuple[tuple, tuple, tuple]:
        """The jitted function's arguments: the sharded inputs, the replicated parameters, the static values."""
        step = self.step
        if len(values) != len(step.inputs):
            raise TypeError(f"data_parallel step: expected {len(step.inputs)} input(s), got {len(values)}")
        filtered = step.function._filter_inputs(values, {})
        with self._x64(True):
            dynamic = []
            for i in self._dynamic:
                axis, value = self.batch_axes[i], filtered[i]
                if axis is not None and np.shape(value)[axis] % self.n_shards:
                    raise ValueError(f"data_parallel: input {describe(step.inputs[i])} has {np.shape(value)[axis]} "
                                     f"rows along its batch axis {axis}, which {self.n_shards} devices cannot "
                                     f"share evenly")
                dynamic.append(self._global(value, self.input_shardings[i]))
            params = []
            for value in step.param_values():
                if getattr(value, "sharding", None) != self.param_sharding:
                    value = self._global(step.function.backend.to_host(value), self.param_sharding)
                params.append(value)
            static = tuple(np.asarray(filtered[i])[()] for i in step.static)
        return tuple(dynamic), tuple(params), static

    def __call__(self, *values: Any) -> Any:
        step = self.step
        arguments = self._arguments(values)
        with self._x64(True):
            outputs, new = self._run(*arguments)
        step.store(new)
        results = [_local_copy(v) for v in outputs]
        return results[0] if step.function._single else results

    def compiled_text(self, *values: Any) -> str:
        """The program XLA compiles for a step on ``values``, as text (the sums across devices that its
        partitioner added show as ``all-reduce``).  Runs nothing."""
        arguments = self._arguments(values)
        with self._x64(True):
            return self._run.lower(*arguments).compile().as_text()


def _automatic(mesh: Any) -> Any:
    """The same devices and axis names, with every axis partitioned automatically by XLA (``AxisType.Auto``):
    a mesh made by ``jax.make_mesh`` may have *explicit* axes, whose sharding is part of each value's type and
    which refuse a reshape across the batch axis, as the graph's ``(T*B, I)·(I, H)`` products do."""
    from jax import sharding

    axis_type = getattr(sharding, "AxisType", None)  # older JAX: every axis is automatic
    if axis_type is None or all(t == axis_type.Auto for t in getattr(mesh, "axis_types", ())):
        return mesh
    return sharding.Mesh(mesh.devices, mesh.axis_names, axis_types=(axis_type.Auto,) * len(mesh.axis_names))


def _local_copy(value: Any) -> np.ndarray:
    """A replicated global array as a NumPy array, from this process's own replica."""
    if getattr(value, "is_fully_addressable", True):
        return np.array(value)
    return np.array(value.addressable_data(0))


def data_parallel(function: Function, mesh: Any, batch_axes: Any = 0, axis: str | None = None) -> DataParallel:
    """Run the training step ``function`` (compiled with ``backend="jax"``) data-parallel over ``mesh``.

    - ``mesh``: a :class:`jax.sharding.Mesh`, say ``jax.make_mesh((4,), ("batch",))``; with several
      processes (``jax.distributed.initialize``), it spans the devices of all of them;
    - ``batch_axes``: the batch axis of the inputs: one int for all (``0``; time-major sequences ``(T, B, I)``
      have it at ``1``), a list with one entry per input, or a dict by input variable, name or position;
      ``None`` replicates an input (scalars are replicated);
    - ``axis``: the mesh axis that the batch is split over (default: the mesh's first).

    Returns a callable :class:`DataParallel`: ``step(*inputs)`` returns the outputs as the function does
    (NumPy arrays) and leaves the updated parameters in the shared variables, replicated on the devices.

    Example::

        >>> import jax, numpy as np, symrnn, symrnn.tensor as T  # doctest: +SKIP
        >>> w = symrnn.shared(np.zeros(3), name="w")  # doctest: +SKIP
        >>> x, y = T.dmatrix("x"), T.dvector("y")  # doctest: +SKIP
        >>> loss = ((T.dot(x, w) - y) ** 2).mean()  # doctest: +SKIP
        >>> train = symrnn.function([x, y], loss, updates=[(w, w - 0.1 * symrnn.grad(loss, w))],
        ...                         backend="jax")  # doctest: +SKIP
        >>> step = data_parallel(train, jax.make_mesh((jax.device_count(),), ("batch",)))  # doctest: +SKIP
        >>> loss_value = step(np.ones((8, 3)), np.ones(8))  # doctest: +SKIP
    """
    return DataParallel(function, mesh, batch_axes, axis)


__all__ = ["PureStep", "pure_step", "DataParallel", "data_parallel"]
