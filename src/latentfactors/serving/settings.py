"""Service settings: one frozen dataclass, filled by the ``serve`` command (or by code).

Tokens come from files (``--token-file``, ``--read-token-file``) or from the environment
(``LATENTFACTORS_TOKEN``, ``LATENTFACTORS_READ_TOKEN``); never from the command line,
where ``ps`` would show them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import InvalidParameterError

__all__ = ["READ_TOKEN_ENV", "TOKEN_ENV", "Settings", "read_token"]

TOKEN_ENV = "LATENTFACTORS_TOKEN"
READ_TOKEN_ENV = "LATENTFACTORS_READ_TOKEN"


def read_token(path: str | os.PathLike[str] | None, env: str) -> str | None:
    """The token in ``path`` (surrounding whitespace stripped), else ``$env``, else None."""
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidParameterError(f"cannot read the token file {p}: {exc.strerror}") from exc
        if not text:
            raise InvalidParameterError(f"the token file {p} is empty")
        return text
    value = os.environ.get(env, "").strip()
    return value or None


def _lite(uri: str) -> bool:
    return not str(uri).startswith(("http://", "https://", "tcp://", "grpc://"))


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to start.

    Attributes
    ----------
    model_path : str
        The model file to serve.
    state_dir : str or None
        Folder for the SQLite event log (``live_users.sqlite``) and index files; None
        keeps live users in memory only (lost on restart).
    index : {"exact", "hnsw", "milvus"}
        Retrieval for recommendations.
    token / read_token : str or None
        Bearer tokens: ``token`` guards the mutating and admin endpoints (which are
        refused when it is None); ``read_token``, when set, guards every other endpoint
        except ``/healthz``, ``/readyz`` and ``/metrics``.
    max_n : int
        Largest ``n`` a request may ask for.
    max_ids : int
        Most ids in one request (users in a batch, items in a basket or an interaction
        post, candidates in an allow-list).
    max_body_bytes : int
        Largest request body.
    synchronous : {"FULL", "NORMAL"}
        SQLite durability (see :mod:`latentfactors.serving.live_users`).
    milvus_uri : str or None
        Milvus for ``index="milvus"`` (default ``<state_dir>/milvus.db``, Milvus Lite).
    workers : int
        Worker processes. More than one needs ``state_dir`` (they share posted
        interactions through its log and catch up before each request) and, with
        ``index="milvus"``, a Milvus server (Milvus Lite lets one process own its file).
    """

    model_path: str
    state_dir: str | None = None
    index: str = "exact"
    token: str | None = field(default=None, repr=False)
    read_token: str | None = field(default=None, repr=False)
    max_n: int = 1000
    max_ids: int = 10_000
    max_body_bytes: int = 1 << 20
    synchronous: str = "FULL"
    milvus_uri: str | None = None
    milvus_token: str | None = field(default=None, repr=False)
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    workers: int = 1

    def __post_init__(self) -> None:
        from ..index import INDEX_KINDS

        if self.index not in INDEX_KINDS:
            raise InvalidParameterError(
                f"unknown index {self.index!r}; choose one of {', '.join(INDEX_KINDS)}"
            )
        for name in ("max_n", "max_ids", "max_body_bytes", "workers"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InvalidParameterError(f"{name} must be a positive int, got {v!r}")
        if self.synchronous.upper() not in ("FULL", "NORMAL"):
            raise InvalidParameterError(
                f"synchronous must be 'full' or 'normal', got {self.synchronous!r}"
            )
        if self.workers > 1:
            if self.state_dir is None:
                raise InvalidParameterError(
                    f"--workers {self.workers} needs --state DIR: the worker processes share "
                    "posted interactions through its SQLite log"
                )
            if self.index == "milvus" and (self.milvus_uri is None or _lite(self.milvus_uri)):
                raise InvalidParameterError(
                    f"--workers {self.workers} with --index milvus needs a Milvus server "
                    "(--milvus-uri http://HOST:19530): Milvus Lite lets one process own its "
                    ".db file; or run --workers 1"
                )

    @property
    def db_path(self) -> Path | None:
        return None if self.state_dir is None else Path(self.state_dir) / "live_users.sqlite"

    def to_json(self) -> str:
        """All settings, secrets included, as JSON (handed to worker processes through
        their environment, never on a command line)."""
        import json

        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        import json

        return cls(**json.loads(text))

    def public(self) -> dict[str, Any]:
        """The settings without secrets (for ``GET /model`` and logs)."""
        d = asdict(self)
        for key in ("token", "read_token", "milvus_token"):
            d[key] = "set" if d[key] else None
        return d
