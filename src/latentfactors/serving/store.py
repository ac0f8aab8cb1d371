"""The served model, its index and its live users, swapped as one versioned snapshot.

A request reads :attr:`Service.current` once and works on that :class:`Snapshot` to the
end, so ``reload`` (a new model file) publishes a new snapshot with one reference
assignment and never changes one a request holds: requests in flight finish on the old
model, and none sees a half-updated one. A write replaces one user's live row (one dict
assignment, O(1) whatever the number of live users) in the live rows of the current
model; a request sees a user's old row or their new one, never a mix, and never a row
of another model (a reload folds every user into a new dict of its own).

The loaded model is never mutated. Live users (posted interactions, folded in with
``model.fold_in(..., update=False)``) live in the snapshot as plain vectors, biases and
seen items, scored with the same arithmetic as the model's own users
(:func:`latentfactors.index.retrieve`, i.e. :func:`scoring.top_n` or the ANN index).
A known training user who posts interactions is folded in again from their training row
plus the new interactions, and their live row takes precedence over the model's.

Writers (interactions, deletions, reloads) are serialised by one lock; readers never wait.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError
from .live_users import EventLog
from .settings import Settings
from .snapshot import LiveRow, ServiceError, Snapshot, _ids

__all__ = ["LiveRow", "Service", "ServiceError", "Snapshot", "check_n"]

logger = logging.getLogger("latentfactors.serving")

#: a sample of this many user vectors measures an ANN index's recall@10 at load
RECALL_SAMPLE = 500
#: the log's meta key naming the model file a multi-worker reload asked for
RELOAD_KEY = "reload_path"
GENERATION_KEY = "model_generation"
#: requests for at most this many users score on the calling thread alone
SMALL_BATCH = 64


def kernel_threads(rows: int) -> None:
    """Let numba's parallel kernels use one thread for small requests, all for big ones.

    A request for one user gains nothing from a parallel region, and on a busy machine
    its threads wait on each other (ML-100K recommend: 12 ms with 2 threads vs 0.9 ms with
    1, measured while other processes held both cores); concurrent requests already keep
    every core busy. ``numba.set_num_threads`` applies to the calling thread only.
    """
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    want = 1 if rows <= SMALL_BATCH else numba.config.NUMBA_NUM_THREADS
    if numba.get_num_threads() != want:
        numba.set_num_threads(want)


class Service:
    """The model, its index, the live users and the event log; the service's logic,
    independent of HTTP (the routes in :mod:`.app` only translate)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = EventLog(settings.db_path, settings.synchronous)
        self._write = threading.RLock()  # reentrant: sync() runs inside writers
        self._current: Snapshot | None = None
        self.error: str | None = None
        self.started_at = time.time()
        self.stats = {"fold_ins": 0, "reloads": 0, "deleted_users": 0}
        self._score_lock: Any = None
        #: several worker processes share the log: catch up with the others' writes
        self.shared = settings.workers > 1
        self._seq = 0
        self._data_version = -1

    # ------------------------------------------------------------------ lifecycle
    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> Snapshot:
        if self.shared and self._current is not None:
            self.sync()
        snap = self._current
        if snap is None:
            raise ServiceError(
                503,
                self.error
                or "the model is still loading; retry shortly (GET /readyz says when it is ready)",
            )
        return snap

    def start(self) -> None:
        """Load the model, build the index, replay the event log (blocking)."""
        try:
            # a reload in a multi-worker service names the new file here (see reload)
            path = (self.log.meta(RELOAD_KEY) if self.shared else None) or self.settings.model_path
            generation = self.log.meta(GENERATION_KEY) if self.shared else None
            snap = self._load(path, version=int(generation or 1))
            with self._write:
                self._data_version = self.log.data_version()
                self._seq = self.log.last_change()
                self._current = self._refold(snap)
            logger.info(
                "serving %s (version %d, %d live users)",
                snap.path,
                snap.version,
                len(self._current.live),
            )
        except Exception as exc:
            self.error = f"the model could not be loaded: {exc}"
            logger.error(self.error)
            raise

    def close(self) -> None:
        snap = self._current
        if snap is not None and hasattr(snap.index, "close"):
            snap.index.close()
        self.log.close()

    def _load(self, path: str, version: int) -> Snapshot:
        import latentfactors as lf

        from ..index.hnsw import file_sha256

        p = Path(path)
        if not p.exists():
            raise ServiceError(422, f"model file {path} does not exist")
        model = lf.load(p)
        sha = file_sha256(p) if p.is_file() else ""
        index, recall = self._build_index(model, p, sha)
        counts = np.asarray(model.item_counts_, np.int64)
        popular = np.lexsort((np.arange(len(counts)), -counts)).astype(np.int64)
        forgotten = frozenset(self.log.forgotten())
        snap = Snapshot(
            model,
            str(p),
            sha,
            version,
            index,
            self.settings.index,
            recall,
            time.time(),
            {},
            forgotten,
            popular,
        )
        self._warm(snap)
        return snap

    def _build_index(self, model: Any, path: Path, sha: str) -> tuple[Any, float | None]:
        from ..index import augment_items, recall_at

        kind = self.settings.index
        if kind == "exact":
            return None, None
        lay = model._items
        vectors = augment_items(lay.factors, lay.bias)
        state = Path(self.settings.state_dir) if self.settings.state_dir else path.parent
        if kind == "hnsw":
            from ..index.hnsw import HNSWIndex

            index, rebuilt = HNSWIndex.load_or_build(
                state / f"{path.name}.hnsw",
                vectors,
                {"model_sha256": sha},
                M=self.settings.hnsw_m,
                ef_search=self.settings.hnsw_ef_search,
            )
            logger.info("HNSW index %s", "built" if rebuilt else "loaded")
            # requests search one user (or a few) at a time: a parallel region per query
            # only adds waiting (0.19 vs 0.47 ms a query on 2 busy cores); concurrent
            # requests keep the cores busy instead
            import faiss

            faiss.omp_set_num_threads(1)
        else:
            from ..index.milvus import MilvusIndex

            uri = self.settings.milvus_uri or str(state / "milvus.db")
            name = f"items_{sha[:16] or 'model'}"
            index = MilvusIndex(uri, name, token=self.settings.milvus_token)
            try:
                index.attach(len(vectors), vectors.shape[1])
            except InvalidParameterError:
                index.build(vectors, np.arange(len(vectors), dtype=np.int64))
        sample = model.user_vectors_
        if len(sample) > RECALL_SAMPLE:
            rng = np.random.default_rng(0)
            sample = sample[np.sort(rng.choice(len(sample), RECALL_SAMPLE, replace=False))]
        recall = recall_at(index, lay, np.asarray(sample, np.float32), 10) if len(sample) else None
        return index, recall

    def _warm(self, snap: Snapshot) -> None:
        """Compile the scoring kernels before the first request; serialise them when numba
        runs on its workqueue layer (not safe for concurrent calls)."""
        from ..index import retrieve

        m = snap.model
        if len(m.users_):
            retrieve(
                snap.index,
                m._items,
                m.intercept_,
                np.asarray(m.user_vectors_[:1], np.float32),
                np.asarray(m.user_bias_[:1], np.float32),
                5,
            )
        if len(m.items_):  # and the fold-in solver, so the first POST is fast too
            item = m.items_.ids(np.array([0]))[0]
            value = m.global_mean_ if m.data_kind == "explicit" else 1.0
            self._fold(snap, {"__warm-up__": ([item], [value])})
            self.stats["fold_ins"] = 0
        from .._runtime import numba_threading_layer

        if numba_threading_layer() == "workqueue" and self._score_lock is None:
            self._score_lock = threading.Lock()

    def _serialised(self) -> Any:
        """Held around every parallel kernel a request runs: the score lock under numba's
        workqueue threading layer, which aborts on concurrent launches; else nothing."""
        return self._score_lock or contextlib.nullcontext()

    # ------------------------------------------------------------------ folding
    def _fold(
        self, snap: Snapshot, events: dict[Any, tuple[list[Any], list[Any]]]
    ) -> dict[Any, LiveRow]:
        """Fold users in from their stored events (plus their training row for users the
        model knows); users left without a known item get no row."""
        from ..data.interactions import Interactions

        kernel_threads(len(events))
        m = snap.model
        if not events:
            return {}
        explicit = m.data_kind == "explicit"
        us: list[Any] = []
        its: list[Any] = []
        vals: list[float] = []
        ui = m.user_items_
        for u, (items, values) in events.items():
            r = -1 if u in snap.forgotten else int(m.users_.index([u], missing="ignore")[0])
            if r >= 0 and ui is not None:
                lo, hi = ui.indptr[r], ui.indptr[r + 1]
                its.extend(m.items_.ids(ui.indices[lo:hi]).tolist())
                vals.extend(ui.data[lo:hi].astype(float).tolist())
                us.extend([u] * (hi - lo))
            us.extend([u] * len(items))
            its.extend(items)
            vals.extend(1.0 if v is None else float(v) for v in values)
        known = snap.item_rows(its) >= 0 if its else np.zeros(0, bool)
        if not known.any():
            return {}
        keep = np.flatnonzero(known)
        us = [us[i] for i in keep]
        its = [its[i] for i in keep]
        v = np.asarray(vals, np.float64)[keep]
        kw = {"ratings": v} if explicit else {"weights": v}
        inter = Interactions.from_arrays(
            _ids(us), _ids(its), duplicates="last" if explicit else "sum", **kw
        )
        with self._serialised():  # a parallel kernel
            fold = m.fold_in(inter, update=False)
        out: dict[Any, LiveRow] = {}
        for j, u in enumerate(fold.users.tolist()):
            seen = fold.seen.indices[fold.seen.indptr[j] : fold.seen.indptr[j + 1]]
            if len(seen) == 0:
                continue
            n_events = len(events.get(u, ((), ()))[0])
            out[u] = LiveRow(
                np.array(fold.factors[j], np.float32),
                float(fold.bias[j]),
                np.sort(seen).astype(np.int32),
                n_events,
            )
        self.stats["fold_ins"] += len(out)
        return out

    def _events_by_user(self) -> dict[Any, tuple[list[Any], list[Any]]]:
        ev: dict[Any, tuple[list[Any], list[Any]]] = {}
        for u, i, v in self.log.all_events():
            items, values = ev.setdefault(u, ([], []))
            items.append(i)
            values.append(v)
        return ev

    def _refold(self, snap: Snapshot) -> Snapshot:
        """``snap`` with every stored user folded in (call with the write lock held)."""
        events = self._events_by_user()
        live = self._fold(snap, events)
        return replace(snap, live=live, forgotten=frozenset(self.log.forgotten()), _cache={})

    # ------------------------------------------------------------------ writes
    def add_interactions(
        self,
        raw_user: Any,
        raw_items: Sequence[Any],
        ratings: Sequence[float] | None,
        weights: Sequence[float] | None,
    ) -> dict[str, Any]:
        snap = self.current
        explicit = snap.model.data_kind == "explicit"
        if ratings is not None and weights is not None:
            raise ServiceError(422, "send either 'ratings' or 'weights', not both")
        values = ratings if ratings is not None else weights
        if explicit and ratings is None:
            raise ServiceError(
                422,
                f"this {type(snap.model).__name__} model learns from "
                "ratings; send 'ratings' (one per item)",
            )
        if not explicit and ratings is not None:
            raise ServiceError(
                422,
                f"this {type(snap.model).__name__} model learns from "
                "implicit feedback; send 'weights' (or no values) instead of "
                "'ratings'",
            )
        if values is not None and len(values) != len(raw_items):
            raise ServiceError(
                422,
                f"'items' has {len(raw_items)} entries but "
                f"'{'ratings' if ratings is not None else 'weights'}' has "
                f"{len(values)}; send one value per item",
            )
        if values is not None:
            bad = [x for x in values if not np.isfinite(x)]
            if bad:
                raise ServiceError(422, f"values must be finite numbers, got {bad[0]!r}")
            if not explicit and any(x < 0 for x in values):
                raise ServiceError(422, "weights must be >= 0")
            scale = getattr(snap.model, "rating_scale_", None)
            if explicit and scale is not None:
                out = [x for x in values if x < scale[0] or x > scale[1]]
                if out:
                    raise ServiceError(
                        422,
                        f"rating {out[0]!r} is outside the model's rating "
                        f"scale {scale[0]:g}..{scale[1]:g}",
                    )
        with self._write:
            snap = self.current
            user = snap.user_id(raw_user)
            items = snap.item_ids(raw_items)
            vals: list[float | None] = list(values) if values is not None else [None] * len(items)
            rows = snap.item_rows(items)
            unknown = [it for it, r in zip(items, rows) if r < 0]
            self.log.add(user, items, vals)  # committed before anything is acknowledged
            stored, stored_vals = self.log.events_of(user)
            folded = self._fold(snap, {user: (stored, stored_vals)})
            # in place, O(1): the live rows belong to this model; a reload builds a new dict
            if user in folded:
                snap.live[user] = folded[user]
            else:
                snap.live.pop(user, None)
        return {
            "user": user,
            "accepted": len(items),
            "unknown_items": unknown[:100],
            "n_unknown_items": len(unknown),
            "stored_interactions": len(stored),
            "live": user in folded,
            "model_version": snap.version,
        }

    def delete_user(self, raw_user: Any) -> dict[str, Any]:
        with self._write:
            snap = self.current
            user = snap.user_id(raw_user)
            was_live = user in snap.live
            in_model = snap.model_row(user) >= 0
            if not was_live and not in_model and not self.log.events_of(user)[0]:
                raise snap.unknown_user(user)
            n = self.log.forget(user)
            snap.live.pop(user, None)
            self._current = replace(snap, forgotten=snap.forgotten | {user})
            self.stats["deleted_users"] += 1
        return {
            "user": user,
            "deleted_interactions": n,
            "deleted": True,
            "note": "hidden from the loaded model too; a refit leaves the user out"
            if in_model
            else "",
        }

    def sync(self) -> None:
        """Fold in the users other worker processes wrote since this one last looked."""
        version = self.log.data_version()
        if version == self._data_version:
            return
        with self._write:
            snap = self._current
            if snap is None:
                return
            self._data_version = version
            users, seq = self.log.changed_since(self._seq)
            if not users:
                return
            forgotten = frozenset(self.log.forgotten())
            snap = replace(snap, forgotten=forgotten)
            events = {u: self.log.events_of(u) for u in users}
            folded = self._fold(snap, {u: e for u, e in events.items() if e[0]})
            for u in events:
                snap.live.pop(u, None)
            snap.live.update(folded)
            self._current = snap
            self._seq = seq

    def reload(self, path: str | None = None) -> dict[str, Any]:
        """Load ``path`` (default: the file being served, re-read), fold every stored user
        into it, and swap it in atomically.

        With several workers, each process serves its own copy: the new path is recorded
        in the log and the server process is asked (SIGHUP) for a rolling restart, in
        which every new worker loads it and replays the log before its predecessor stops
        (which finishes the requests it holds).
        """
        old = self.current
        if self.shared:
            return self._rolling_reload(path or old.path, old)
        target = path or old.path
        try:
            fresh = self._load(target, old.version + 1)
        except ServiceError:
            raise
        except Exception as exc:
            raise ServiceError(422, f"could not load {target}: {exc}") from exc
        with self._write:
            fresh = self._refold(replace(fresh, version=self.current.version + 1))
            previous = self.current
            self._current = fresh
            self.stats["reloads"] += 1
        # the previous snapshot (and its index) lives on while requests in flight hold it
        return {
            "model_version": fresh.version,
            "previous_version": previous.version,
            "path": fresh.path,
            "live_users": len(fresh.live),
            "sha256": fresh.sha256,
        }

    def _rolling_reload(self, target: str, old: Snapshot) -> dict[str, Any]:
        import os
        import signal

        import latentfactors as lf

        try:
            lf.load(target)  # refuse a bad file before any worker restarts on it
        except Exception as exc:
            raise ServiceError(422, f"could not load {target}: {exc}") from exc
        self.log.set_meta(RELOAD_KEY, str(Path(target).resolve()))
        self.log.set_meta(GENERATION_KEY, str(old.version + 1))
        os.kill(os.getppid(), signal.SIGHUP)
        return {
            "model_version": old.version + 1,
            "previous_version": old.version,
            "path": str(target),
            "live_users": len(old.live),
            "sha256": "",
            "note": f"rolling restart of {self.settings.workers} workers started",
        }

    # ------------------------------------------------------------------ reads
    def _candidates(
        self, snap: Snapshot, items: Sequence[Any] | None, exclude: Sequence[Any] | None
    ) -> tuple[Any, Any]:
        n_items = len(snap.model.items_)
        cand = None
        if items is not None:
            rows = snap.item_rows(snap.item_ids(items))
            if len(items) and not (rows >= 0).any():
                raise ServiceError(
                    404,
                    f"none of the {len(items)} candidate items is known to "
                    f"the model (first: {list(items)[:3]})",
                )
            cand = np.unique(rows[rows >= 0]).astype(np.int32)
        if not exclude:
            return cand, None
        ex = snap.item_rows(snap.item_ids(exclude))
        ex = ex[ex >= 0]
        allowed = np.ones(n_items if cand is None else len(cand), dtype=bool)
        if cand is None:
            allowed[ex] = False
        else:
            allowed[np.isin(cand, ex)] = False
        return cand, allowed

    def _popular(self, snap: Snapshot, n: int, cand: Any, allowed: Any) -> tuple[list, list]:
        order = snap.popular
        ok = np.ones(len(order), bool)
        if cand is not None:
            ok[:] = False
            ok[cand if allowed is None else cand[allowed]] = True
        elif allowed is not None:
            ok = allowed
        top = order[ok[order]][:n]
        counts = np.asarray(snap.model.item_counts_)[top].astype(float)
        return snap.model.items_.ids(top).tolist(), counts.tolist()

    def recommend_many(
        self,
        snap: Snapshot,
        raw_users: Sequence[Any],
        n: int,
        exclude_seen: bool,
        items: Sequence[Any] | None,
        exclude: Sequence[Any] | None,
        fallback: str,
    ) -> list[dict[str, Any]]:
        from ..index import retrieve

        kernel_threads(len(raw_users))
        users = [snap.user_id(u) for u in raw_users]
        U, b, seen, unknown = snap.user_rows(users)
        if unknown and fallback != "popular":
            if len(users) == 1:
                raise snap.unknown_user(users[unknown[0]])
            bad = [users[j] for j in unknown[:5]]
            raise ServiceError(
                404,
                f"{len(unknown)} user(s) are not known, e.g. {bad}; post "
                "their interactions first, or ask with fallback=popular",
            )
        if exclude_seen and not snap.seen_kept:
            raise ServiceError(
                422,
                "this model file keeps no seen items, so exclude_seen=true "
                "cannot be honoured; pass exclude_seen=false (and the items to "
                "leave out as 'exclude')",
            )
        cand, allowed = self._candidates(snap, items, exclude)
        known = np.setdiff1d(np.arange(len(users)), unknown)
        results: list[dict[str, Any]] = [{} for _ in users]
        if len(known):
            ptr, idx = seen
            sub_parts = [idx[ptr[j] : ptr[j + 1]] for j in known]
            sp = np.zeros(len(known) + 1, np.int64)
            np.cumsum([len(p) for p in sub_parts], out=sp[1:])
            sub = (sp, np.concatenate(sub_parts).astype(np.int32)) if exclude_seen else None
            lay = snap.model._items
            with self._serialised():
                ti, tv, _ = retrieve(
                    snap.index,
                    lay,
                    snap.model.intercept_,
                    U[known],
                    b[known],
                    n,
                    sub,
                    cand,
                    allowed,
                )
            for r, j in enumerate(known):
                keep = ti[r] >= 0
                results[j] = {
                    "user": users[j],
                    "items": snap.model.items_.ids(ti[r][keep]).tolist(),
                    "scores": tv[r][keep].astype(float).tolist(),
                    "fallback": None,
                    "source": "live" if users[j] in snap.live else "model",
                }
        for j in unknown:
            its, sc = self._popular(snap, n, cand, allowed)
            results[j] = {
                "user": users[j],
                "items": its,
                "scores": sc,
                "fallback": "popular",
                "source": "popular",
            }
        return results

    def recommend(
        self,
        snap: Snapshot,
        user: Any,
        n: int,
        exclude_seen: bool,
        items: Any,
        exclude: Any,
        fallback: str,
    ) -> dict[str, Any]:
        return self.recommend_many(snap, [user], n, exclude_seen, items, exclude, fallback)[0]

    def basket(
        self,
        snap: Snapshot,
        raw_items: Sequence[Any],
        ratings: Any,
        weights: Any,
        n: int,
        exclude_seen: bool,
        items: Any,
        exclude: Any,
    ) -> dict[str, Any]:
        from ..data.interactions import Interactions
        from ..index import retrieve

        kernel_threads(1)
        m = snap.model
        its = snap.item_ids(raw_items)
        explicit = m.data_kind == "explicit"
        values = ratings if ratings is not None else weights
        if explicit and ratings is None:
            raise ServiceError(
                422, "this model learns from ratings; send 'ratings' with the basket (one per item)"
            )
        if values is not None and len(values) != len(its):
            raise ServiceError(
                422,
                f"'items' has {len(its)} entries but the values have "
                f"{len(values)}; send one value per item",
            )
        rows = snap.item_rows(its)
        known = rows >= 0
        if not known.any():
            raise ServiceError(
                404,
                f"none of the {len(its)} basket items is known to the model "
                f"(first: {its[:3]}); use raw item ids from the training data",
            )
        v = np.ones(len(its)) if values is None else np.asarray(values, np.float64)
        kw = {"ratings": v[known]} if explicit else {"weights": v[known]}
        anon = "__basket__"
        inter = Interactions.from_arrays(
            np.array([anon] * int(known.sum()), dtype=object),
            _ids([i for i, k in zip(its, known) if k]),
            duplicates="last" if explicit else "sum",
            **kw,
        )
        with self._serialised():  # fold-in and retrieval: parallel kernels
            fold = m.fold_in(inter, update=False)
            cand, allowed = self._candidates(snap, items, exclude)
            seen = (fold.seen.indptr.astype(np.int64), fold.seen.indices.astype(np.int32))
            ti, tv, _ = retrieve(
                snap.index,
                m._items,
                m.intercept_,
                np.asarray(fold.factors, np.float32),
                np.asarray(fold.bias, np.float32),
                n,
                seen if exclude_seen else None,
                cand,
                allowed,
            )
        keep = ti[0] >= 0
        return {
            "items": m.items_.ids(ti[0][keep]).tolist(),
            "scores": tv[0][keep].astype(float).tolist(),
            "unknown_items": [i for i, k in zip(its, known) if not k][:100],
        }

    def similar_items(
        self, snap: Snapshot, raw_item: Any, n: int, metric: str, min_count: int
    ) -> dict[str, Any]:
        item = snap.item_id(raw_item)
        if snap.item_rows([item])[0] < 0:
            raise ServiceError(
                404,
                f"item {item!r} is not known to the model; use a raw item id "
                "from the training data",
            )
        with self._serialised():  # a parallel kernel
            its, sims = snap.model.similar_items(item, n, metric=metric, min_count=min_count)
        return {"item": item, "items": its.tolist(), "similarities": sims.astype(float).tolist()}

    def similar_users(self, snap: Snapshot, raw_user: Any, n: int, metric: str) -> dict[str, Any]:
        from ..models import scoring

        user = snap.user_id(raw_user)
        U, _, _, unknown = snap.user_rows([user])
        if unknown:
            raise snap.unknown_user(user)
        m = snap.model
        V = m.user_vectors_
        if V.shape[1] == 0:
            raise ServiceError(
                422, f"{type(m).__name__} has no latent factors, so it has no similar users"
            )
        allowed = np.ones(len(V), bool)
        r = snap.model_row(user)
        if r >= 0:
            allowed[r] = False
        if snap.forgotten:
            f = m.users_.index(_ids(list(snap.forgotten)), missing="ignore")
            allowed[f[f >= 0]] = False
        with self._serialised():  # a parallel kernel
            idx, sims = scoring.similar(
                V, snap.user_norms() if metric == "cosine" else None, U[0], n, allowed
            )
        return {
            "user": user,
            "users": m.users_.ids(idx).tolist(),
            "similarities": sims.astype(float).tolist(),
        }

    def predict(
        self, snap: Snapshot, raw_users: Sequence[Any], raw_items: Sequence[Any]
    ) -> dict[str, Any]:
        m = snap.model
        users = [snap.user_id(u) for u in raw_users]
        items = snap.item_ids(raw_items)
        if len(users) != len(items):
            raise ServiceError(
                422, f"'users' and 'items' must have the same length: {len(users)} != {len(items)}"
            )
        U, b, _, unknown = snap.user_rows(users)
        known_u = np.ones(len(users), bool)
        known_u[unknown] = False
        irow = snap.item_rows(items)
        known_i = irow >= 0
        pred = np.full(len(users), m.global_mean_, np.float64)
        pred[known_u] += b[known_u]
        ib = np.asarray(m.item_bias_, np.float64)
        pred[known_i] += ib[irow[known_i]]
        both = known_u & known_i
        if both.any():
            pred[both] += m.intercept_ - m.global_mean_
            Q = np.asarray(m.item_factors_)
            pred[both] += np.einsum(
                "ij,ij->i", U[both].astype(np.float64), Q[irow[both]].astype(np.float64)
            )
        m._add_cold_priors(pred, known_u, lambda rows: U[rows], irow)
        scale = getattr(m, "rating_scale_", None)
        if scale is not None:
            np.clip(pred, scale[0], scale[1], out=pred)
        return {
            "users": users,
            "items": items,
            "scores": pred.tolist(),
            "fallback": (~both).tolist(),
        }

    def explain(self, snap: Snapshot, raw_user: Any, raw_item: Any) -> dict[str, Any]:
        m = snap.model
        user, item = snap.user_id(raw_user), snap.item_id(raw_item)
        U, b, _, unknown = snap.user_rows([user])
        if unknown:
            raise snap.unknown_user(user)
        i = int(snap.item_rows([item])[0])
        if i < 0:
            raise ServiceError(
                404,
                f"item {item!r} is not known to the model; use a raw item id "
                "from the training data",
            )
        if user not in snap.live:
            ex = m.explain(user, item)
            parts = ex.parts
            return {
                "user": user,
                "item": item,
                "score": float(ex.score),
                "note": ex.note,
                "parts": [
                    {"kind": str(k), "name": str(nm), "contribution": float(c)}
                    for k, nm, c in zip(parts["kind"], parts["name"], parts["contribution"])
                ],
            }
        prods = U[0].astype(np.float64) * np.asarray(m.item_factors_[i], np.float64)
        names = ["intercept", "user bias", "item bias"] + [f"factor {f}" for f in range(len(prods))]
        kinds = ["baseline"] * 3 + ["factor"] * len(prods)
        contrib = np.concatenate(([m.intercept_, b[0], float(m.item_bias_[i])], prods))
        order = np.argsort(-np.abs(contrib), kind="stable")
        return {
            "user": user,
            "item": item,
            "score": float(contrib.sum()),
            "note": "a live user (folded in from posted interactions)",
            "parts": [
                {"kind": kinds[o], "name": names[o], "contribution": float(contrib[o])}
                for o in order
            ],
        }

    def model_info(self, snap: Snapshot) -> dict[str, Any]:
        from .._version import __version__

        m = snap.model
        n_events, _ = self.log.counts()
        return {
            "model_class": type(m).__name__,
            "params": m.get_params(),
            "path": snap.path,
            "sha256": snap.sha256,
            "version": snap.version,
            "loaded_at": snap.loaded_at,
            "data_kind": m.data_kind,
            "n_users": len(m.users_),
            "n_items": len(m.items_),
            "n_factors": int(m.item_factors_.shape[1]),
            "rating_scale": None if m.rating_scale_ is None else list(m.rating_scale_),
            "live_users": len(snap.live),
            "deleted_users": len(snap.forgotten),
            "stored_interactions": n_events,
            "index": {"kind": snap.index_kind, "recall_at_10": snap.recall},
            "library_version": __version__,
            "settings": self.settings.public(),
        }


def check_n(n: int, max_n: int) -> None:
    if n > max_n:
        raise ServiceError(422, f"n={n} is above this service's limit of {max_n}")
