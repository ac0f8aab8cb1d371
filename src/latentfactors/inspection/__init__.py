"""Inspection: what the latent factors capture, shown honestly.

``factor_table`` / ``genre_association`` / ``principal_item_axes`` need only NumPy and
pandas; clustering needs scikit-learn and the plots and the report need matplotlib
(``pip install 'latentfactors[report]'``), imported only when those functions run.
"""

from .clusters import ClusterResult, cluster_items, cluster_users
from .factors import factor_table, genre_association, principal_item_axes
from .plots import factor_correlation, factor_heatmap, map_2d, training_curves
from .report import write_report
from .tables import GenreSignal, explanation_table, genre_signal, neighbours_table

__all__ = [
    "ClusterResult",
    "GenreSignal",
    "cluster_items",
    "cluster_users",
    "explanation_table",
    "factor_correlation",
    "factor_heatmap",
    "factor_table",
    "genre_association",
    "genre_signal",
    "map_2d",
    "neighbours_table",
    "principal_item_axes",
    "training_curves",
    "write_report",
]
