"""The HTTP service (extra ``latentfactors[serve]``): ``latentfactors serve MODEL``.

:func:`create_app` builds the FastAPI application; :class:`Settings` configures it. Only
importing :mod:`.app` needs FastAPI; this package's ``__init__`` imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'latentfactors.serving' has no attribute {name!r}")
