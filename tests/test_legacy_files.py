"""Model files written by the release before this layout (format 1, see
tests/legacy/make_files.py) still load, predict and recommend exactly as they did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import latentfactors as lf

HERE = Path(__file__).resolve().parent / "legacy"
EXPECTED = json.loads((HERE / "expected.json").read_text())["models"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_old_file_loads_and_answers_as_before(name, tmp_path):
    want = EXPECTED[name]
    model = lf.load(HERE / f"{name}.lfm")
    assert type(model).__name__ == want["class"]
    assert len(model.users_) == want["n_users"]
    assert model.predict(want["users"], want["items"]) == pytest.approx(want["predict"], abs=1e-6)
    assert model.recommend(want["users"][0], n=5)[0].tolist() == want["recommend"]
    # and it can be saved again in today's layout, unchanged
    again = lf.load(model.save(tmp_path / "again.lfm"))
    assert np.array_equal(again.predict(want["users"], want["items"]),
                          model.predict(want["users"], want["items"]))  # fmt: skip
    assert np.array_equal(again.item_counts_, model.item_counts_)


def test_old_file_keeps_its_item_metadata():
    model = lf.load(HERE / "svd-str.lfm")
    assert model.item_metadata_.loc["item 0", "title"] == "Film 0"
