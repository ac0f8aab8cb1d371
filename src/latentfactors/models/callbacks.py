"""Callbacks called by ``fit`` after every epoch: progress reporting and early stopping."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._callback import Callback
from ..exceptions import InvalidParameterError

__all__ = ["Callback", "EarlyStopping", "as_callbacks"]


class _FunctionCallback(Callback):
    def __init__(self, fn: Callable[[Any, dict[str, Any]], Any]) -> None:
        self.fn = fn

    def on_epoch_end(self, model: Any, info: dict[str, Any]) -> bool | None:
        return bool(self.fn(model, info))


class EarlyStopping(Callback):
    """Stop when a monitored validation metric stops improving; optionally restore the best epoch.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        Smallest change that counts as an improvement.
    restore_best : bool
        Put back the factors of the best epoch when training ends.
    monitor : str, optional
        Key of the epoch ``info`` to watch. Default: the fit's validation metric
        (``"val_rmse"`` for explicit models, ``"val_ndcg@10"`` for implicit ones).
    mode : {"min", "max"}, optional
        Whether lower or higher values are better; default "min" for errors (rmse,
        mae, loss) and "max" otherwise.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic, random_split
    >>> from latentfactors.models import SVD
    >>> train, val = random_split(make_synthetic(200, 100, 4000, seed=0).interactions, seed=0)
    >>> model = SVD(n_epochs=200, random_state=0).fit(
    ...     train, validation=val, callbacks=[EarlyStopping(patience=2)])
    >>> model.best_epoch_ < 200
    True
    """

    def __init__(
        self,
        patience: int = 3,
        min_delta: float = 0.0,
        restore_best: bool = True,
        monitor: str | None = None,
        mode: str | None = None,
    ) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise InvalidParameterError(
                f"EarlyStopping: patience={patience!r} is invalid; expected an integer >= 1"
            )
        if mode not in ("min", "max", None):
            raise InvalidParameterError(
                f"EarlyStopping: mode={mode!r} is invalid; expected 'min' or 'max'"
            )
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.monitor = monitor
        self.mode = mode

    def on_fit_start(self, model: Any, n_epochs: int) -> None:
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        self._snap: dict[str, Any] | None = None

    def on_epoch_end(self, model: Any, info: dict[str, Any]) -> bool:
        monitor = self.monitor or next((k for k in info if k.startswith("val_")), "val_rmse")
        mode = self.mode or ("min" if any(w in monitor for w in ("rmse", "mae", "loss")) else "max")
        value = info.get(monitor)
        if value is None:
            raise InvalidParameterError(
                f"EarlyStopping monitors {monitor!r}, which this fit does not report; "
                "pass validation= to fit (or monitor one of: "
                f"{', '.join(k for k, v in info.items() if v is not None)})"
            )
        better = (
            self.best is None
            or (mode == "min" and value < self.best - self.min_delta)
            or (mode == "max" and value > self.best + self.min_delta)
        )
        if better:
            self.best, self.best_epoch, self.wait = value, info["epoch"], 0
            if self.restore_best:
                self._snap = model._snapshot()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def on_fit_end(self, model: Any) -> None:
        if self.restore_best and self._snap is not None:
            model._restore(self._snap)
        model.best_epoch_ = self.best_epoch


def as_callbacks(callbacks: Iterable[Any] | None) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or callable(callbacks):
        callbacks = [callbacks]
    out: list[Callback] = []
    for cb in callbacks:
        if isinstance(cb, Callback):
            out.append(cb)
        elif callable(cb):
            out.append(_FunctionCallback(cb))
        else:
            raise InvalidParameterError(
                f"callbacks must be Callback objects or callables, got {type(cb).__name__}"
            )
    return out
