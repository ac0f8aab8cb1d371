"""Inspection: what the latent factors capture, shown honestly."""

from .factors import factor_table, genre_association, principal_item_axes

__all__ = ["factor_table", "genre_association", "principal_item_axes"]
