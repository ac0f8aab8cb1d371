"""``latentfactors serve`` / ``export`` / ``refit``: click commands that the main command
line registers from :data:`COMMANDS`. Only click is imported here; the service's heavy
dependencies are imported inside the commands, so ``latentfactors --help`` stays fast."""

from __future__ import annotations

import click

__all__ = ["COMMANDS", "export", "refit", "serve"]

#: seconds a new worker may take to load its model before a rolling restart gives up
WORKER_READY_TIMEOUT = 600


class _Fail(click.ClickException):
    """One red line, exit code 2 for bad input."""

    exit_code = 2


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind (127.0.0.1: this machine only).",
)
@click.option("--port", type=int, default=8000, show_default=True, help="0 picks a free port.")
@click.option(
    "--port-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the bound port to this file once listening (useful with --port 0).",
)
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes (more than 1 needs --state; not with Milvus Lite).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the SQLite log of posted interactions (replayed on start) "
    "and index files; without it live users are lost on restart.",
)
@click.option(
    "--index",
    "index_kind",
    type=click.Choice(["exact", "hnsw", "milvus"]),
    default="exact",
    show_default=True,
    help="Retrieval for recommendations.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Bearer token for mutating/admin endpoints (else $LATENTFACTORS_TOKEN; "
    "without one they are disabled).",
)
@click.option(
    "--read-token-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Bearer token for reads too (else $LATENTFACTORS_READ_TOKEN; default: reads are open).",
)
@click.option("--max-n", type=int, default=1000, show_default=True)
@click.option(
    "--max-ids", type=int, default=10_000, show_default=True, help="Most ids in one request."
)
@click.option("--max-body-bytes", type=int, default=1 << 20, show_default=True)
@click.option(
    "--sync",
    "synchronous",
    type=click.Choice(["full", "normal"]),
    default="full",
    show_default=True,
    help="SQLite durability: full survives power loss, normal survives a killed process.",
)
@click.option(
    "--milvus-uri",
    default=None,
    help="Milvus for --index milvus (default <state>/milvus.db, Milvus Lite).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    model,
    host,
    port,
    port_file,
    workers,
    state_dir,
    index_kind,
    token_file,
    read_token_file,
    max_n,
    max_ids,
    max_body_bytes,
    synchronous,
    milvus_uri,
    log_level,
):
    """Serve MODEL over HTTP: recommendations, predictions, neighbours, live fold-in.

    \b
    Examples:
      latentfactors serve svd.lfm --state state/ --token-file token.txt
      latentfactors serve als.lfm --index hnsw --port 0 --port-file port.txt
    OpenAPI page: http://HOST:PORT/docs
    """
    from ..exceptions import LatentFactorsError
    from .settings import READ_TOKEN_ENV, TOKEN_ENV, Settings, read_token

    try:
        settings = Settings(
            model_path=model,
            state_dir=state_dir,
            index=index_kind,
            token=read_token(token_file, TOKEN_ENV),
            read_token=read_token(read_token_file, READ_TOKEN_ENV),
            max_n=max_n,
            max_ids=max_ids,
            max_body_bytes=max_body_bytes,
            synchronous=synchronous.upper(),
            milvus_uri=milvus_uri,
            workers=workers,
        )
    except LatentFactorsError as exc:
        raise _Fail(str(exc)) from exc
    run_server(settings, host, port, port_file, log_level)


def run_server(settings, host: str, port: int, port_file: str | None, log_level: str) -> None:
    """Bind ``host:port`` (0: any free port), write ``port_file``, serve until stopped."""
    import logging
    import os
    import socket

    import uvicorn

    from .app import create_app

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it a kept-alive response waits ~40 ms on Nagle + the peer's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise _Fail(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    bound = sock.getsockname()[1]
    if settings.workers > 1:
        from uvicorn.supervisors import Multiprocess

        from .app import SETTINGS_ENV
        from .live_users import EventLog
        from .store import GENERATION_KEY, RELOAD_KEY

        log = EventLog(settings.db_path, settings.synchronous)  # a fresh start serves MODEL
        log.delete_meta(RELOAD_KEY)
        log.delete_meta(GENERATION_KEY)
        log.close()
        os.environ[SETTINGS_ENV] = settings.to_json()  # inherited by the workers only
        config = uvicorn.Config(
            "latentfactors.serving.app:app_from_env",
            factory=True,
            workers=settings.workers,
            log_level=log_level,
            access_log=False,
            timeout_keep_alive=30,
            # a new worker loads the model (and replays the log) before it reports ready;
            # uvicorn's default 5 s would abort a rolling restart of any real model
            timeout_worker_healthcheck=WORKER_READY_TIMEOUT,
        )
        _write_port(port_file, bound)
        logging.getLogger("latentfactors.serving").info(
            "listening on http://%s:%d with %d workers", host, bound, settings.workers
        )
        Multiprocess(config, sockets=[sock]).run()
        return
    app = create_app(settings)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_keep_alive=30)
    server = uvicorn.Server(config)
    _write_port(port_file, bound)
    logging.getLogger("latentfactors.serving").info("listening on http://%s:%d", host, bound)
    server.run(sockets=[sock])


def _write_port(port_file: str | None, port: int) -> None:
    import os

    if port_file:
        tmp = f"{port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, port_file)


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--to",
    "uri",
    required=True,
    help="milvus://FILE.db (Milvus Lite) or http(s)://HOST:PORT (Milvus / Zilliz).",
)
@click.option("--collection", default="items", show_default=True)
@click.option("--users", is_flag=True, help="Also export the user factors.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Milvus token (else $MILVUS_TOKEN).",
)
@click.option("--overwrite/--no-overwrite", default=True, show_default=True)
def export(model, uri, collection, users, token_file, overwrite):
    """Write MODEL's item (and user) factors with raw ids and biases to Milvus.

    A search of the item collection with a user's vector [u, 1] and metric IP ranks as
    model.recommend; distance + the user's offset is the model's score.
    """
    import json

    import latentfactors as lf

    from ..exceptions import LatentFactorsError
    from .settings import read_token

    try:
        from ..index.milvus import export_vectors

        info = export_vectors(
            lf.load(model),
            uri,
            collection=collection,
            users=users,
            token=read_token(token_file, "MILVUS_TOKEN"),
            overwrite=overwrite,
        )
    except (LatentFactorsError, ImportError) as exc:
        raise _Fail(str(exc)) from exc
    click.echo(json.dumps(info))


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("data", type=click.Path(exists=True))
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, exists=True),
    required=True,
    help="The service's --state folder.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@click.option("--sep", default=None, help="Separator of DATA (default: sniffed).")
@click.option("--implicit", is_flag=True, help="Treat DATA as implicit feedback.")
def refit(model, data, state_dir, output, sep, implicit):
    """Train MODEL's class with its parameters on DATA plus the interactions stored in
    the service's --state folder (deleted users left out), and save it to OUTPUT.

    Then POST /admin/reload {"path": OUTPUT} (or SIGHUP after replacing the file) swaps
    it in.
    """
    import json

    from ..exceptions import LatentFactorsError
    from .refit import refit_with_state

    try:
        info = refit_with_state(model, data, state_dir, output, sep=sep, implicit=implicit)
    except LatentFactorsError as exc:
        raise _Fail(str(exc)) from exc
    click.echo(json.dumps(info))


COMMANDS = [serve, export, refit]
