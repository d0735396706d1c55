"""``keras.optimizers``: Keras's optimizers with Keras's arguments and default hyper-parameters.

Each class IS the corresponding ``dc.optim`` optimizer (a subclass), created without parameters as in Keras
(``keras.optimizers.Adam(learning_rate=1e-3)``) and bound to the model's parameters by ``compile`` (or at the
first ``fit`` of a model that is built then). After binding it behaves exactly like the deepcore optimizer
(``param_groups``, ``state_dict``, schedulers, learning-rate callbacks); ``learning_rate`` reads and writes
the learning rate of every parameter group.

The update rules are deepcore's (PyTorch's). They equal Keras's for ``SGD`` (with and without momentum and
Nesterov) and ``RMSprop`` without ``centered``; for ``Adam``/``AdamW``/``Adagrad``/``Adadelta`` the
``epsilon`` enters the denominator where PyTorch puts it, a difference of the order of ``epsilon`` (1e-7).
"""
from __future__ import annotations

from .. import optim as _optim

_UNSUPPORTED = ("clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum", "ema_overwrite_frequency",
                "loss_scale_factor", "gradient_accumulation_steps")


class _KerasOptimizer:
    """Mixin: remembers Keras's hyper-parameters until ``build(params)`` initialises the deepcore optimizer."""

    _dc_class = None

    def _keras_init(self, name, learning_rate, dc_kwargs, weight_decay=None, **kwargs):
        for key in _UNSUPPORTED:
            if kwargs.pop(key, None) not in (None, False):
                raise NotImplementedError(f"{type(self).__name__}: {key}= is not supported")
        if "lr" in kwargs:                      # Keras 1/2 spelling
            learning_rate = kwargs.pop("lr")
        self._decay = float(kwargs.pop("decay", 0.0) or 0.0)     # Keras 2: lr / (1 + decay * iterations)
        self._steps_taken = 0
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
        if callable(learning_rate) or hasattr(learning_rate, "get_config"):
            raise NotImplementedError(f"{type(self).__name__}: learning-rate schedules are not supported; use a "
                                      "keras.callbacks.LearningRateScheduler")
        self.name = name
        self._lr = float(learning_rate)
        self._dc_kwargs = dict(dc_kwargs)
        if weight_decay:
            if "weight_decay" not in self._dc_kwargs:
                raise NotImplementedError(f"{type(self).__name__}: weight_decay is only supported by AdamW here "
                                          "(Keras applies it decoupled from the gradient)")
            self._dc_kwargs["weight_decay"] = float(weight_decay)
        self.built = False

    def build(self, params):
        """Bind to ``params`` (an iterable of Parameters or param-group dicts); called by ``compile``/``fit``."""
        if self.built:
            raise RuntimeError(f"{type(self).__name__} is already bound to a model's parameters; create a new "
                               "optimizer for another model")
        type(self)._dc_class.__init__(self, params, lr=self._lr, **self._dc_kwargs)
        self.built = True
        return self

    def step(self, *args, **kwargs):
        if self._decay:
            lr = self._lr / (1.0 + self._decay * self._steps_taken)
            for g in self.param_groups:
                g["lr"] = lr
        self._steps_taken += 1
        return super().step(*args, **kwargs)

    @property
    def learning_rate(self):
        if not self.built:
            return self._lr
        return float(self.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = float(value)
        if self.built:
            for g in self.param_groups:
                g["lr"] = float(value)

    lr = learning_rate

    @property
    def iterations(self):
        """Optimizer steps taken so far."""
        return self._steps_taken

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate, "decay": self._decay, **self._dc_kwargs}

    def __repr__(self):
        return f"<keras.optimizers.{type(self).__name__} learning_rate={self.learning_rate}>"


class SGD(_KerasOptimizer, _optim.SGD):
    _dc_class = _optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, name="SGD", **kwargs):
        self._keras_init(name, learning_rate, {"momentum": float(momentum), "nesterov": bool(nesterov)},
                         weight_decay, **kwargs)


class Adam(_KerasOptimizer, _optim.Adam):
    _dc_class = _optim.Adam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, name="adam", **kwargs):
        self._keras_init(name, learning_rate, {"betas": (float(beta_1), float(beta_2)), "eps": float(epsilon),
                                               "amsgrad": bool(amsgrad)}, weight_decay, **kwargs)


class AdamW(_KerasOptimizer, _optim.AdamW):
    _dc_class = _optim.AdamW

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adamw", **kwargs):
        self._keras_init(name, learning_rate, {"betas": (float(beta_1), float(beta_2)), "eps": float(epsilon),
                                               "amsgrad": bool(amsgrad), "weight_decay": float(weight_decay)},
                         None, **kwargs)


class RMSprop(_KerasOptimizer, _optim.RMSprop):
    _dc_class = _optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, name="rmsprop", **kwargs):
        self._keras_init(name, learning_rate, {"alpha": float(rho), "momentum": float(momentum),
                                               "eps": float(epsilon), "centered": bool(centered)},
                         weight_decay, **kwargs)


class Adagrad(_KerasOptimizer, _optim.Adagrad):
    _dc_class = _optim.Adagrad

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 name="adagrad", **kwargs):
        self._keras_init(name, learning_rate, {"initial_accumulator_value": float(initial_accumulator_value),
                                               "eps": float(epsilon)}, weight_decay, **kwargs)


class Adadelta(_KerasOptimizer, _optim.Adadelta):
    _dc_class = _optim.Adadelta

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, name="adadelta",
                 **kwargs):
        self._keras_init(name, learning_rate, {"rho": float(rho), "eps": float(epsilon)}, weight_decay, **kwargs)


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta}
ACCEPTED = tuple(sorted(_BY_NAME))


def get(identifier):
    """A Keras optimizer for a name (Keras's defaults), a Keras optimizer, or a bound ``dc.optim`` optimizer."""
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown optimizer {identifier!r}; accepted: {', '.join(ACCEPTED)}, or an optimizer "
                             "object such as keras.optimizers.Adam(learning_rate=1e-3)")
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, _KerasOptimizer):
        return identifier()
    if isinstance(identifier, (_KerasOptimizer, _optim.Optimizer)):
        return identifier
    raise TypeError(f"optimizer must be a name ({', '.join(ACCEPTED)}) or an optimizer object, got "
                    f"{type(identifier).__name__}")
