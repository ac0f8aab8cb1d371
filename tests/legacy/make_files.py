"""Write the format-1 model files of this folder with an OLD latentfactors (the last
release before learned state became declared): run it with that version importable,

    git worktree add /tmp/lf-old 6267882
    PYTHONPATH=/tmp/lf-old/src python tests/legacy/make_files.py

It records what each model predicts and recommends in expected.json, which
tests/test_legacy_files.py checks the current version reproduces exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import latentfactors as lf
from latentfactors.data import make_synthetic

HERE = Path(__file__).resolve().parent


def main() -> None:
    expected = {"library_version": lf.__version__, "models": {}}
    exp = make_synthetic(60, 40, 900, seed=0).interactions
    imp = make_synthetic(60, 40, 700, implicit=True, seed=1).interactions
    as_str = lf.Interactions.from_arrays(
        [f"user {u}" for u in exp.users.ids(exp.user_ids)],
        [f"item {i}" for i in exp.items.ids(exp.item_ids)], ratings=exp.values,
    )  # fmt: skip
    meta = pd.DataFrame({"title": [f"Film {k}" for k in range(5)]},
                        index=pd.Index(as_str.items.raw[:5].tolist(), name="item"))  # fmt: skip
    cases = {
        "svd-str": (lf.SVD(n_factors=4, n_epochs=5, random_state=0), as_str, meta),
        "svdpp": (lf.SVDpp(n_factors=4, n_epochs=5, random_state=0), exp, None),
        "tsvd": (lf.TruncatedSVD(n_factors=3, random_state=0), exp, None),
        "ials": (lf.ImplicitALS(n_factors=4, n_epochs=4, random_state=0), imp, None),
        "bpr": (lf.BPR(n_factors=4, n_epochs=4, random_state=0), imp, None),
        "popularity": (lf.Popularity(), imp, None),
    }
    for name, (model, data, items) in cases.items():
        model.fit(data)
        model.save(HERE / f"{name}.lfm", items=items)
        users = data.users.raw[:4].tolist()
        item_ids = data.items.raw[:4].tolist()
        expected["models"][name] = {
            "class": type(model).__name__,
            "users": users,
            "items": item_ids,
            "predict": model.predict(users, item_ids).tolist(),
            "recommend": model.recommend(users[0], n=5)[0].tolist(),
            "n_users": len(model.users_),
        }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, default=_plain))


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))


if __name__ == "__main__":
    main()
