"""Item (and user) factors in Milvus: :func:`export_vectors` and :class:`MilvusIndex`.

How the biases are carried, so that querying Milvus directly ranks as ``model.recommend``:

* the item collection stores ``vector = [q_i, b_i]`` (the item factors with the item bias
  appended) under the primary key ``row`` (the model's inner item id), with the raw id
  as text in ``item`` and the bias again in ``bias``;
* the user collection (``users=True``) stores ``vector = [u, 1]`` and ``offset`` =
  ``intercept + b_u`` for every user, with the raw id as text in ``user``;
* a search of the item collection with a user's ``vector`` and ``metric_type="IP"``
  returns ``distance = u . q_i + b_i``, which ranks exactly as the model's score, and
  ``distance + offset`` *is* the model's score (up to float32 rounding).

Always ``metric_type="IP"`` (Milvus's default became COSINE, which would drop the bias
and normalise the norms away). Inserts are sent in batches of at most
``BATCH_BYTES`` (8 MB), well under Milvus's 64 MB request limit.

The URI is a local file path for Milvus Lite (the default; ``pymilvus`` + ``milvus-lite``)
or ``http(s)://host:port`` for a Milvus server or Zilliz Cloud (with ``token``). Milvus
Lite holds a file lock: one process owns a ``.db``; a second gets a clear
:class:`~latentfactors.exceptions.InvalidParameterError`. Several service workers need a
Milvus server.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError
from ._mips import augment_items, augment_queries
from .base import filter_hits

__all__ = ["BATCH_BYTES", "MilvusIndex", "export_vectors", "is_lite_uri", "open_client"]

BATCH_BYTES = 8 << 20
#: Milvus caps ``limit`` (top-k) per search at 16384
MAX_LIMIT = 16384


def _pymilvus():
    try:
        import pymilvus
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Milvus support needs pymilvus (and milvus-lite for local .db files); install "
            "the extra with: pip install 'latentfactors[milvus]'"
        ) from exc
    return pymilvus


def is_lite_uri(uri: str) -> bool:
    """Whether ``uri`` names a Milvus Lite file (anything but ``http(s)://`` /
    ``tcp://`` / ``grpc://``)."""
    s = str(uri)
    if s.startswith("milvus://"):
        s = s[len("milvus://") :]
    return not s.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


def _plain_uri(uri: str | os.PathLike[str]) -> str:
    s = os.fspath(uri)
    if s.startswith("milvus://"):  # the CLI's spelling of a Lite file: milvus://path/to.db
        s = s[len("milvus://") :]
    return s


def open_client(uri: str | os.PathLike[str], token: str | None = None) -> Any:
    """A ``MilvusClient`` for ``uri``; a clear error when a Lite file is locked by another
    process or Milvus Lite is not installed."""
    pymilvus = _pymilvus()
    s = _plain_uri(uri)
    lite = is_lite_uri(s)
    if lite:
        if not s.endswith(".db"):
            raise InvalidParameterError(
                f"Milvus Lite needs a file name ending in .db, got {s!r} (or pass an "
                "http(s):// URI of a Milvus server)"
            )
        parent = os.path.dirname(os.path.abspath(s))
        os.makedirs(parent, exist_ok=True)
    kwargs: dict[str, Any] = {"uri": os.path.abspath(s) if lite else s}
    if token:
        kwargs["token"] = token
    try:
        return pymilvus.MilvusClient(**kwargs)
    except Exception as exc:  # pymilvus wraps the lock error in a connection error
        text = f"{exc} {exc.__cause__ or ''}"
        if lite and ("lock" in text.lower() or "Open local milvus failed" in text):
            raise InvalidParameterError(
                f"the Milvus Lite file {s!r} is in use by another process (Milvus Lite lets "
                "one process own a .db); stop that process, use another file, or run a "
                "Milvus server for several processes or workers"
            ) from exc
        if lite and "milvus_lite" in text:
            raise ImportError(
                "Milvus Lite is not installed; pip install 'latentfactors[milvus]'"
            ) from exc
        raise InvalidParameterError(f"cannot connect to Milvus at {s!r}: {exc}") from exc


def _batches(n_rows: int, dim: int, extra_bytes: int = 256) -> tuple[range, int]:
    """Row ranges of at most ``BATCH_BYTES`` each (vectors are 4 bytes a coordinate)."""
    per = max(1, BATCH_BYTES // (4 * dim + extra_bytes))
    return range(0, n_rows, per), per


def _create(
    client: Any,
    name: str,
    dim: int,
    fields: list[tuple[str, str]],
    properties: dict[str, str],
    index_type: str,
    overwrite: bool,
) -> None:
    pymilvus = _pymilvus()
    DataType = pymilvus.DataType
    if client.has_collection(name):
        if not overwrite:
            raise InvalidParameterError(
                f"Milvus collection {name!r} exists; pass overwrite=True (--overwrite) to "
                "replace it"
            )
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    for fname, kind in fields:
        if kind == "str":
            schema.add_field(fname, DataType.VARCHAR, max_length=1024)
        else:
            schema.add_field(fname, DataType.FLOAT)
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type=index_type, metric_type="IP")
    client.create_collection(name, schema=schema, index_params=params, properties=properties)


def _insert(client: Any, name: str, vectors: np.ndarray, columns: dict[str, Any]) -> None:
    rng, per = _batches(len(vectors), vectors.shape[1])
    for s in rng:
        e = min(len(vectors), s + per)
        rows = [
            {"row": int(r), "vector": vectors[r], **{k: v[r] for k, v in columns.items()}}
            for r in range(s, e)
        ]
        client.insert(name, rows)


def export_vectors(
    model: Any,
    uri: str | os.PathLike[str],
    *,
    collection: str = "items",
    users: bool = False,
    user_collection: str | None = None,
    token: str | None = None,
    overwrite: bool = True,
    index_type: str = "AUTOINDEX",
    properties: dict[str, str] | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """Write a fitted model's item factors (and optionally user factors) to Milvus.

    Parameters
    ----------
    model : FactorModel
        A fitted model.
    uri : str or path
        A Milvus Lite file (``items.db``, also spelled ``milvus://items.db``) or a server
        URI ``http(s)://host:19530`` (Zilliz Cloud: its endpoint and ``token``).
    collection : str
        Item collection name; the users go to ``user_collection`` (default
        ``collection + "_users"``).
    users : bool
        Also export the users (training and folded-in).
    overwrite : bool
        Replace existing collections of these names.
    index_type : str
        Milvus vector index (``AUTOINDEX`` picks one; Lite uses a flat index); the metric
        is always ``IP``.

    Returns
    -------
    dict
        ``uri``, ``collection``, ``n_items``, ``dim``, and ``user_collection`` /
        ``n_users`` when users were exported.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import latentfactors as lf
    >>> from latentfactors.index import export_vectors
    >>> model = lf.SVD(n_factors=4, n_epochs=2, random_state=0).fit(
    ...     lf.make_synthetic(40, 30, 400, seed=0).interactions)
    >>> info = export_vectors(model, pathlib.Path(tempfile.mkdtemp()) / "f.db")  # doctest: +SKIP
    >>> info["n_items"], info["dim"]  # doctest: +SKIP
    (30, 5)
    """
    model._check_fitted("export_vectors")
    own = client is None
    client = open_client(uri, token) if own else client
    try:
        lay = model._items
        V = augment_items(lay.factors, lay.bias)
        props = {
            "latentfactors.kind": "items",
            "latentfactors.model": type(model).__name__,
            **(properties or {}),
        }
        _create(
            client,
            collection,
            V.shape[1],
            [("item", "str"), ("bias", "float")],
            props,
            index_type,
            overwrite,
        )
        raw = [str(x) for x in model.items_.raw.tolist()]
        bias = lay.bias if len(lay.bias) else np.zeros(len(V), np.float32)
        _insert(client, collection, V, {"item": raw, "bias": bias.astype(float).tolist()})
        client.load_collection(collection)
        info: dict[str, Any] = {
            "uri": _plain_uri(uri),
            "collection": collection,
            "n_items": len(V),
            "dim": int(V.shape[1]),
        }
        if users:
            uname = user_collection or f"{collection}_users"
            st = model._users_state()
            Uq = augment_queries(st.vectors)
            offset = (np.float64(model.intercept_) + st.bias.astype(np.float64)).tolist()
            _create(
                client,
                uname,
                Uq.shape[1],
                [("user", "str"), ("offset", "float")],
                {**props, "latentfactors.kind": "users"},
                index_type,
                overwrite,
            )
            _insert(
                client,
                uname,
                Uq,
                {"user": [str(x) for x in st.users.raw.tolist()], "offset": offset},
            )
            client.load_collection(uname)
            info.update(user_collection=uname, n_users=len(Uq))
        return info
    finally:
        if own:
            client.close()


class MilvusIndex:
    """Inner-product search in a Milvus collection of augmented item vectors.

    ``build(vectors, ids)`` writes them (ids become the primary key ``row``);
    :meth:`attach` uses a collection that :func:`export_vectors` wrote. The client is
    opened on first use and owned by this object (close it with :meth:`close`).
    """

    kind = "milvus"

    def __init__(
        self,
        uri: str | os.PathLike[str] = "items.db",
        collection: str = "items",
        token: str | None = None,
        index_type: str = "AUTOINDEX",
    ) -> None:
        self.uri, self.collection, self.token = _plain_uri(uri), collection, token
        self.index_type = index_type
        self._client: Any = None
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = open_client(self.uri, self.token)
        return self._client

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> MilvusIndex:
        X = np.ascontiguousarray(vectors, dtype=np.float32)
        _create(
            self.client,
            self.collection,
            X.shape[1],
            [],
            {"latentfactors.kind": "items"},
            self.index_type,
            True,
        )
        ids = np.asarray(ids, dtype=np.int64)
        rng, per = _batches(len(X), X.shape[1], 16)
        for s in rng:
            e = min(len(X), s + per)
            self.client.insert(
                self.collection, [{"row": int(ids[r]), "vector": X[r]} for r in range(s, e)]
            )
        self.client.load_collection(self.collection)
        self._size = len(X)
        return self

    def attach(self, expected_rows: int, expected_dim: int) -> MilvusIndex:
        """Use the existing collection; InvalidParameterError when it is missing or its
        shape differs from the model's."""
        c = self.client
        if not c.has_collection(self.collection):
            raise InvalidParameterError(
                f"Milvus collection {self.collection!r} not found at {self.uri!r}; write it "
                "with latentfactors export MODEL --to milvus://FILE.db"
            )
        desc = c.describe_collection(self.collection)
        dim = next((f["params"].get("dim") for f in desc["fields"] if f["name"] == "vector"), None)
        rows = int(c.get_collection_stats(self.collection).get("row_count", -1))
        if dim != expected_dim or rows != expected_rows:
            raise InvalidParameterError(
                f"Milvus collection {self.collection!r} holds {rows} vectors of dim {dim}; the "
                f"model has {expected_rows} items of dim {expected_dim} (export it again)"
            )
        c.load_collection(self.collection)
        self._size = rows
        return self

    def properties(self) -> dict[str, Any]:
        return dict(self.client.describe_collection(self.collection).get("properties", {}))

    def search(
        self, queries: np.ndarray, k: int, exclude: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        Qy = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        m = len(Qy)
        extra = max((len(e) for e in exclude), default=0) if exclude is not None else 0
        kk = max(1, min(self._size or k + extra, k + extra, MAX_LIMIT))
        ids = np.full((m, kk), -1, np.int64)
        dist = np.full((m, kk), -np.inf, np.float32)
        if m == 0 or self._size == 0:
            return ids[:, :k], dist[:, :k]
        res = self.client.search(
            self.collection,
            data=[q for q in Qy],
            limit=kk,
            anns_field="vector",
            search_params={"metric_type": "IP"},
            output_fields=["row"],
        )
        for r, hits in enumerate(res):
            for j, h in enumerate(hits[:kk]):
                ids[r, j] = int(h["row"])
                dist[r, j] = float(h["distance"])
        if exclude is None and kk == k:
            return ids, dist
        return filter_hits(ids, dist, k, exclude)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
