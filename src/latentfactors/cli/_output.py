"""Output helpers of the command line: consoles, tables, JSON, progress bars.

Every piece of text that comes from data or from the user (ids, titles, file names,
error messages) is escaped before rich prints it, so ``[report]`` or ``[bold]`` in a
title is shown as written, never taken for markup.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from .._callback import Callback

__all__ = ["ProgressCallback", "console", "emit_json", "esc", "table"]


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def esc(text: Any) -> str:
    """``text`` as a string that rich prints literally."""
    from rich.markup import escape

    return escape(str(text))


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=_json_default))


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def table(title: str, columns: list[str], rows: list[list[Any]]):
    """A rich table; cells and the title are escaped (they hold ids and titles)."""
    from rich.table import Table

    t = Table(title=esc(title), title_justify="left", show_edge=False, pad_edge=False)
    for c in columns:
        t.add_column(esc(c), justify="right" if c in ("score", "rank", "#", "similarity")
                     else "left")  # fmt: skip
    for r in rows:
        t.add_row(*[f"{x:.4f}" if isinstance(x, float) else esc(x) for x in r])
    return t


class _SearchLines(logging.Handler):
    """Prints the "latentfactors.search" lines (a search that runs before the first
    epoch, such as ImplicitALS's ``reg="auto"``) above the progress bar."""

    def __init__(self, progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.console.print(esc(record.getMessage()))


class ProgressCallback(Callback):
    """A rich progress bar fed by the models' epoch callbacks; the lines of a search
    that runs before the first epoch are printed above it as they come."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled
        self._handler: logging.Handler | None = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[metric]}"), console=console(stderr=True),
                transient=False,
            )  # fmt: skip
            self.progress.start()
            self.task = None
            search = logging.getLogger("latentfactors.search")
            self._handler, self._level = _SearchLines(self.progress), search.level
            search.addHandler(self._handler)
            search.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.stop()
        if self._handler is not None:
            search = logging.getLogger("latentfactors.search")
            search.removeHandler(self._handler)
            search.setLevel(self._level)
            self._handler = None

    # the Callback protocol
    def on_fit_start(self, model, n_epochs):
        if self.enabled:
            self.task = self.progress.add_task(esc(self.label), total=n_epochs, metric="")

    def on_epoch_end(self, model, info):
        if self.enabled:
            metric = " ".join(
                f"{k} {v:.4f}" for k, v in info.items() if k.startswith("val_") and v is not None
            )
            self.progress.update(self.task, advance=1, metric=metric)
        return False

    def on_fit_end(self, model):
        pass
