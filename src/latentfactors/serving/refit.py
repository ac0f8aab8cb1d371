"""Refit a served model on its original data plus the interactions the service stored.

The stored interactions come from the service's SQLite log (``--state``); a stored
(user, item) pair replaces the same pair in the data (explicit: the newer rating wins;
implicit: the weights add up), and the training rows of every user deleted through
``DELETE /users/{user}`` are left out (what they posted after the deletion is kept).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataError
from .live_users import EventLog

__all__ = ["refit_with_state", "with_stored_interactions"]


def with_stored_interactions(interactions: Any, log: EventLog) -> tuple[Any, dict[str, int]]:
    """``interactions`` plus the log's stored interactions, deleted users removed."""
    import pandas as pd

    from ..data.interactions import Interactions

    df = interactions.to_dataframe()
    explicit = interactions.kind == "explicit"
    col = "rating" if explicit else "weight"
    rows = list(log.all_events())
    forgotten = log.forgotten()
    extra = pd.DataFrame(
        {
            "user": pd.Series([r[0] for r in rows], dtype=object),
            "item": pd.Series([r[1] for r in rows], dtype=object),
            col: np.array([1.0 if r[2] is None else r[2] for r in rows], dtype=np.float64),
        }
    )
    if explicit and extra[col].isna().any():
        raise DataError("the stored interactions have no ratings; refit an implicit model")
    base = df[["user", "item", col]].astype({"user": object, "item": object})
    n_dropped = 0
    if forgotten:  # deleted users' training rows go; what they posted since stays
        gone = base["user"].isin(list(forgotten))
        n_dropped = int(gone.sum())
        base = base[~gone]
    both = pd.concat([base, extra], ignore_index=True)
    kw = {"ratings": both[col].to_numpy()} if explicit else {"weights": both[col].to_numpy()}
    out = Interactions.from_arrays(
        both["user"].to_numpy(object),
        both["item"].to_numpy(object),
        duplicates="last" if explicit else "sum",
        **kw,
    )
    return out, {"stored": len(rows), "deleted_users": len(forgotten), "dropped_rows": n_dropped}


def refit_with_state(
    model_path: str | os.PathLike[str],
    data: str | os.PathLike[str],
    state_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    sep: str | None = None,
    implicit: bool = False,
) -> dict[str, Any]:
    """Fit a fresh model of ``model_path``'s class and parameters on ``data`` plus the
    stored interactions in ``state_dir``; save it to ``output``; a summary dict."""
    import latentfactors as lf

    from ..data import read_path

    db = Path(state_dir) / "live_users.sqlite"
    if not db.is_file():
        raise DataError(
            f"no service state in {state_dir} (expected {db.name}); pass the "
            "folder given to latentfactors serve --state"
        )
    old = lf.load(model_path)
    ds, _ = read_path(data, sep=sep, implicit=implicit)
    log = EventLog(db)
    try:
        train, counts = with_stored_interactions(ds.interactions, log)
    finally:
        log.close()
    model = old.clone().fit(train)
    model.save(output)
    return {"model": type(model).__name__, "output": str(output), "n_train": len(train), **counts}
