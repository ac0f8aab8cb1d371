"""Data layer: the `Interactions` container, id vocabularies, readers, loaders, splits."""

from .interactions import DUPLICATE_POLICIES, Interactions
from .movielens import (
    DATA_ENV,
    Dataset,
    fetch_movielens,
    get_data_home,
    load_lastfm,
    load_movielens,
)
from .paths import read_path
from .readers import read_csv, read_parquet, sniff_separator
from .splits import Split, kfold, leave_last_n, random_split, time_split, user_split
from .synthetic import SyntheticData, make_synthetic
from .vocabulary import Vocabulary

__all__ = [
    "DATA_ENV",
    "DUPLICATE_POLICIES",
    "Dataset",
    "Interactions",
    "Split",
    "SyntheticData",
    "Vocabulary",
    "fetch_movielens",
    "get_data_home",
    "kfold",
    "leave_last_n",
    "load_lastfm",
    "load_movielens",
    "make_synthetic",
    "random_split",
    "read_csv",
    "read_parquet",
    "read_path",
    "sniff_separator",
    "time_split",
    "user_split",
]
