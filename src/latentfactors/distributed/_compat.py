"""The optional dependency: a clear ImportError when dask is not installed."""

from __future__ import annotations

EXTRA_HINT = "pip install 'latentfactors[dask]'"


def require_dask() -> None:
    """Import dask.dataframe and distributed, or raise ImportError naming the extra."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "latentfactors.distributed needs dask[dataframe] and distributed, which are "
            f"not installed ({exc}); install them with {EXTRA_HINT}"
        ) from exc
