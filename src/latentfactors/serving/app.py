"""The HTTP routes (FastAPI): translate requests to :class:`~.store.Service` calls and back.

Every error is a JSON body ``{"error": "...", "status": N}`` with one clear message:
unknown ids are 404, malformed input 422 (400 for a body that is not JSON), a missing or
wrong token 401, writes on a service started without a token 403, a body over the limit
413; nothing ever returns a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..exceptions import DataError, InvalidParameterError, LatentFactorsError, UnknownIdError
from . import schemas as S
from .metrics import Metrics
from .settings import Settings
from .store import Service, ServiceError, check_n

__all__ = ["SETTINGS_ENV", "app_from_env", "create_app"]

#: worker processes read their settings (JSON) from this environment variable
SETTINGS_ENV = "LATENTFACTORS_SERVE_SETTINGS"

logger = logging.getLogger("latentfactors.serving")

_ERRORS = {
    400: {"model": S.ErrorBody, "description": "Malformed request"},
    401: {"model": S.ErrorBody, "description": "Missing or wrong bearer token"},
    404: {"model": S.ErrorBody, "description": "Unknown user or item"},
    422: {"model": S.ErrorBody, "description": "Invalid parameters"},
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errs = exc.errors()
    if not errs:
        return 422, "invalid request"
    e = errs[0]
    loc = [str(x) for x in e.get("loc", ())]
    id_union = any(x in ("int", "str") for x in loc[1:])
    if id_union:  # an Id (int | str) failed both members: say so once
        loc = [x for x in loc if x not in ("int", "str")]
        e = {**e, "msg": "ids must be JSON strings or integers"}
        errs = [
            x for x in errs if [str(y) for y in x.get("loc", ()) if y not in ("int", "str")] != loc
        ] + [e]
    if e.get("type") == "json_invalid":
        return (
            400,
            f"the request body is not valid JSON ({e.get('ctx', {}).get('error', e['msg'])})",
        )
    where = loc[0] if loc else ""
    name = ".".join(loc[1:])
    what = {"query": "query parameter", "path": "path parameter", "body": "body field"}.get(
        where, where
    )
    if where == "body" and not name:
        if e.get("type") == "missing":
            return 422, "a JSON request body is required"
        return 422, f"the request body must be a JSON object: {e['msg']}"
    got = e.get("input")
    shown = "" if got is None or isinstance(got, (dict, list)) else f" (got {got!r})"
    if e.get("type") == "extra_forbidden":
        return 422, f"{what} '{name}' is not accepted by this endpoint"
    more = f"; and {len(errs) - 1} more problem(s)" if len(errs) > 1 else ""
    return 422, f"{what} '{name}': {e['msg']}{shown}{more}"


N = Annotated[int, Query(ge=1, description="how many results", examples=[10])]
UserP = Annotated[str, Path(description="raw user id", examples=["196"])]
ItemP = Annotated[str, Path(description="raw item id", examples=["242"])]
Metric = Annotated[str, Query(pattern="^(cosine|dot)$", description="cosine or dot")]
IdList = Annotated[list[str] | None, Query(description="raw ids (repeat the parameter)")]
Fallback = Annotated[
    str,
    Query(
        pattern="^(none|popular)$",
        description="'popular': most popular items for an unknown user (flagged in the reply)",
    ),
]
MinCount = Annotated[int, Query(ge=0, description="leave out neighbours seen fewer times")]
UserQ = Annotated[str, Query(examples=["196"])]
ItemQ = Annotated[str, Query(examples=["242"])]


class _Guard:
    """Pure ASGI middleware: bounds request bodies (413) and records metrics per route."""

    def __init__(self, app: Any, max_body: int, metrics: Metrics) -> None:
        self.app, self.max_body, self.metrics = app, max_body, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        try:
            if length is not None and int(length) > self.max_body:
                await _send_json(
                    send_wrapped,
                    413,
                    f"the request body has {int(length)} bytes; "
                    f"this service accepts at most {self.max_body}",
                )
                return
            if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
                chunks, total = [], 0
                while True:
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        return
                    body = msg.get("body", b"")
                    total += len(body)
                    if total > self.max_body:
                        await _send_json(
                            send_wrapped,
                            413,
                            "the request body is over this "
                            f"service's limit of {self.max_body} bytes",
                        )
                        return
                    chunks.append(body)
                    if not msg.get("more_body"):
                        break
                data = b"".join(chunks)
                sent = {"done": False}

                async def replay() -> dict:
                    if not sent["done"]:
                        sent["done"] = True
                        return {"type": "http.request", "body": data, "more_body": False}
                    return await receive()

                await self.app(scope, replay, send_wrapped)
            else:
                await self.app(scope, receive, send_wrapped)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(
                path, scope.get("method", ""), status["code"], time.perf_counter() - start
            )


async def _send_json(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    scheme, _, token = h.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def create_app(settings: Settings, *, load_in_background: bool = True) -> FastAPI:
    """The FastAPI application serving ``settings.model_path``.

    The model loads in a background thread when the app starts (``/healthz`` answers at
    once, ``/readyz`` is 503 until it is loaded); ``load_in_background=False`` loads
    before the app accepts requests.
    """
    service = Service(settings)
    metrics = Metrics(service)

    def _start() -> None:
        try:
            service.start()
        except Exception:  # recorded in service.error, shown by /readyz
            logger.exception("model load failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if load_in_background:
            threading.Thread(target=_start, name="latentfactors-load", daemon=True).start()
        else:
            _start()
        loop = asyncio.get_running_loop()
        try:  # SIGHUP reloads the model file being served
            loop.add_signal_handler(
                signal.SIGHUP,
                lambda: threading.Thread(
                    target=_sighup, name="latentfactors-reload", daemon=True
                ).start(),
            )
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass  # not on this platform or not in the main thread
        yield
        service.close()

    def _sighup() -> None:
        try:
            info = service.reload()
            logger.info("SIGHUP: reloaded, model version %s", info["model_version"])
        except Exception as exc:
            logger.error("SIGHUP reload failed: %s", exc)

    app = FastAPI(
        title="latentfactors",
        summary="Recommendations, predictions, neighbours and live fold-in over HTTP",
        description="Raw user and item ids in and out, as in the Python API. Mutating and "
        "admin endpoints need `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        responses=_ERRORS,
    )
    app.state.service = service
    app.state.metrics = metrics
    app.add_middleware(_Guard, max_body=settings.max_body_bytes, metrics=metrics)

    # ------------------------------------------------------------------ errors
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return _error(exc.status, exc.message)

    @app.exception_handler(UnknownIdError)
    async def _unknown(request: Request, exc: UnknownIdError):
        return _error(404, str(exc))

    @app.exception_handler(LatentFactorsError)
    async def _lf_error(request: Request, exc: LatentFactorsError):
        status = 422 if isinstance(exc, (DataError, InvalidParameterError)) else 400
        return _error(status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        status, message = _validation_message(exc)
        return _error(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and exc.detail == "Not Found":
            return _error(404, f"no endpoint {request.method} {request.url.path}; see /docs")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}")
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        logger.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has details")

    # ------------------------------------------------------------------ auth
    def require_write(request: Request) -> None:
        if settings.token is None:
            raise ServiceError(
                403,
                "this server was started without a token, so mutating "
                "and admin endpoints are disabled; start it with --token-file "
                "FILE or $LATENTFACTORS_TOKEN",
            )
        _check(request, settings.token)

    def require_read(request: Request) -> None:
        if settings.read_token is None:
            return
        got = _bearer(request)
        # the write token is accepted for reads too
        if (
            got is not None
            and settings.token is not None
            and hmac.compare_digest(got.encode(), settings.token.encode())
        ):
            return
        _check(request, settings.read_token)

    def _check(request: Request, expected: str) -> None:
        got = _bearer(request)
        if got is None:
            raise _AuthError("missing bearer token; send the header Authorization: Bearer <token>")
        if not hmac.compare_digest(got.encode(), expected.encode()):
            raise _AuthError("wrong bearer token")

    @app.exception_handler(_AuthError)
    async def _auth(request: Request, exc: _AuthError):
        return _error(401, str(exc), {"WWW-Authenticate": "Bearer"})

    read = [Depends(require_read)]
    write = [Depends(require_write)]

    def limit_ids(*lists: Any) -> None:
        for name, values in lists:
            if values is not None and len(values) > settings.max_ids:
                raise ServiceError(
                    422,
                    f"'{name}' has {len(values)} ids; this service accepts at "
                    f"most {settings.max_ids} per request",
                )

    # ------------------------------------------------------------------ reads
    @app.get(
        "/users/{user}/recommendations",
        response_model=S.Recommendations,
        dependencies=read,
        tags=["recommend"],
    )
    async def recommend(
        user: UserP,
        n: N = 10,
        exclude_seen: bool = True,
        items: IdList = None,
        exclude: IdList = None,
        fallback: Fallback = "none",
    ):
        """Top-``n`` items for one user (training user, or live: folded in from posted
        interactions); seen items left out unless ``exclude_seen=false``."""
        # one user is well under a millisecond of work: run it on the event loop rather
        # than hand it to the thread pool (the hand-off cost more than the work: wrk at 8
        # connections, p99 32.7 ms -> see benchmarks/results/serve.md)
        check_n(n, settings.max_n)
        limit_ids(("items", items), ("exclude", exclude))
        snap = service.current
        out = service.recommend(snap, user, n, exclude_seen, items, exclude, fallback)
        return {**out, "model_version": snap.version}

    @app.post(
        "/recommendations",
        response_model=S.BatchRecommendations,
        dependencies=read,
        tags=["recommend"],
    )
    def recommend_many(body: S.RecommendRequest):
        """Top-``n`` items for many users at once."""
        check_n(body.n, settings.max_n)
        limit_ids(("users", body.users), ("items", body.items), ("exclude", body.exclude))
        snap = service.current
        res = service.recommend_many(
            snap, body.users, body.n, body.exclude_seen, body.items, body.exclude, body.fallback
        )
        return {
            "results": [{**r, "model_version": snap.version} for r in res],
            "model_version": snap.version,
        }

    @app.post(
        "/recommendations/basket",
        response_model=S.BasketRecommendations,
        dependencies=read,
        tags=["recommend"],
    )
    def basket(body: S.BasketRequest):
        """Recommendations for an anonymous basket of items (optionally with ratings or
        weights), folded in on the fly; nothing is stored."""
        check_n(body.n, settings.max_n)
        limit_ids(("items", body.items), ("allow", body.allow), ("exclude", body.exclude))
        snap = service.current
        out = service.basket(
            snap,
            body.items,
            body.ratings,
            body.weights,
            body.n,
            body.exclude_seen,
            body.allow,
            body.exclude,
        )
        return {**out, "model_version": snap.version}

    @app.get(
        "/items/{item}/similar",
        response_model=S.SimilarItems,
        dependencies=read,
        tags=["neighbours"],
    )
    def similar_items(item: ItemP, n: N = 10, metric: Metric = "cosine", min_count: MinCount = 0):
        """The ``n`` items whose factors are closest to the item's."""
        check_n(n, settings.max_n)
        snap = service.current
        return {
            **service.similar_items(snap, item, n, metric, min_count),
            "model_version": snap.version,
        }

    @app.get(
        "/users/{user}/similar",
        response_model=S.SimilarUsers,
        dependencies=read,
        tags=["neighbours"],
    )
    def similar_users(user: UserP, n: N = 10, metric: Metric = "cosine"):
        """The ``n`` training users whose factors are closest to the user's."""
        check_n(n, settings.max_n)
        snap = service.current
        return {**service.similar_users(snap, user, n, metric), "model_version": snap.version}

    @app.get("/predict", response_model=S.Prediction, dependencies=read, tags=["predict"])
    def predict_one(user: UserQ, item: ItemQ):
        """Predicted score of one (user, item); unknown ids fall back (flagged)."""
        snap = service.current
        out = service.predict(snap, [user], [item])
        return {
            "user": out["users"][0],
            "item": out["items"][0],
            "score": out["scores"][0],
            "fallback": out["fallback"][0],
            "model_version": snap.version,
        }

    @app.post("/predict", response_model=S.Predictions, dependencies=read, tags=["predict"])
    def predict_many(body: S.PredictRequest):
        """Predicted scores for pairs ``users[i], items[i]``."""
        limit_ids(("users", body.users), ("items", body.items))
        snap = service.current
        return {**service.predict(snap, body.users, body.items), "model_version": snap.version}

    @app.get(
        "/users/{user}/items/{item}/explain",
        response_model=S.Explanation,
        dependencies=read,
        tags=["predict"],
    )
    def explain(user: UserP, item: ItemP):
        """The score of (user, item) broken into parts that add up to it."""
        snap = service.current
        return {**service.explain(snap, user, item), "model_version": snap.version}

    # ------------------------------------------------------------------ writes
    @app.post(
        "/users/{user}/interactions",
        response_model=S.InteractionsAccepted,
        status_code=201,
        dependencies=write,
        tags=["live users"],
    )
    def add_interactions(user: UserP, body: S.InteractionsRequest):
        """Store a user's interactions (committed to SQLite before the reply) and fold the
        user in: the very next request sees the new factors."""
        limit_ids(("items", body.items))
        return service.add_interactions(user, body.items, body.ratings, body.weights)

    @app.delete("/users/{user}", response_model=S.Deleted, dependencies=write, tags=["live users"])
    def delete_user(user: UserP):
        """Forget a user: their stored interactions and live factors are deleted, and a
        training user is hidden from the loaded model (a refit leaves them out)."""
        return service.delete_user(user)

    @app.post("/admin/reload", response_model=S.Reloaded, dependencies=write, tags=["admin"])
    def reload(body: S.ReloadRequest | None = None):
        """Load a model file (default: the one being served) and swap it in atomically;
        requests in flight finish on the old model; stored interactions are folded into
        the new one."""
        return service.reload(None if body is None else body.path)

    # ------------------------------------------------------------------ operations
    @app.get("/model", response_model=S.ModelInfo, dependencies=read, tags=["operations"])
    def model_info():
        """What is being served: model class, parameters, sizes, version, index."""
        return service.model_info(service.current)

    @app.get("/healthz", tags=["operations"])
    def healthz():
        """The process is up (the model may still be loading)."""
        import os

        return {
            "status": "ok",
            "uptime_s": round(time.time() - service.started_at, 3),
            "pid": os.getpid(),
        }

    @app.get("/readyz", tags=["operations"])
    def readyz():
        """503 until the model is loaded (and after a failed load, with the reason)."""
        if not service.ready:
            return _error(503, service.error or "loading the model")
        snap = service.current
        import os

        return {
            "status": "ready",
            "model_version": snap.version,
            "live_users": len(snap.live),
            "pid": os.getpid(),
        }

    @app.get("/metrics", tags=["operations"])
    def prometheus():
        """Prometheus text: requests and latency per route, fold-ins, live users, index
        kind and its recall@10."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


class _AuthError(Exception):
    pass


def app_from_env() -> FastAPI:
    """The app for one worker process of ``serve --workers N`` (a uvicorn factory): its
    settings come as JSON in ``$LATENTFACTORS_SERVE_SETTINGS``."""
    import os

    text = os.environ.get(SETTINGS_ENV)
    if not text:
        raise RuntimeError(f"${SETTINGS_ENV} is not set; start workers with latentfactors serve")
    # a worker loads before it accepts connections: the kernel hands connections to any
    # worker, so one still loading (at start or in a rolling restart) must not be listening
    return create_app(Settings.from_json(text), load_in_background=False)
