"""The fit-loop callback protocol (L0): importable without the models, so the command
line's progress bar does not pull in NumPy, pandas and every model to start."""

from __future__ import annotations

from typing import Any

__all__ = ["Callback"]


class Callback:
    """Base class: override any of the three hooks.

    ``info`` holds ``epoch`` (1-based), ``n_epochs``, ``train_rmse``, ``val_rmse``
    (None without validation data) and ``seconds`` (time of the epoch's kernel call).
    Returning True from :meth:`on_epoch_end` stops training.
    """

    def on_fit_start(self, model: Any, n_epochs: int) -> None:
        pass

    def on_epoch_end(self, model: Any, info: dict[str, Any]) -> bool | None:
        return None

    def on_fit_end(self, model: Any) -> None:
        pass
