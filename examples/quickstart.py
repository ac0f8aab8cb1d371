"""A first look: load MovieLens 100K, split it, and describe what is there.

Run from the repository root; reads ../shared/data/ml-100k, or $LATENTFACTORS_DATA/ml-100k,
or downloads it once when online.
"""

import os
from pathlib import Path

from latentfactors import fetch_movielens, load_movielens, random_split

local = Path(os.environ.get("LATENTFACTORS_DATA", "../shared/data")) / "ml-100k"
ml = load_movielens(local) if local.is_dir() else fetch_movielens("ml-100k")
data = ml.interactions
print(data)
train, test = random_split(data, test_size=0.2, seed=0)
print(f"train {len(train):,} rows, test {len(test):,} rows ({train.n_users} users)")
top = data.item_counts.argsort()[::-1][:5]
print("most rated:", ", ".join(ml.items.loc[data.items.ids(top), "title"]))
