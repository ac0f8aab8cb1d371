"""The command group, its error handling and the options shared by commands.

Exit codes: 0 success; 1 unexpected error; 2 bad usage (unknown option, missing
argument); 3 bad input (data, ids, parameters); 4 unreadable or unsafe model file.
User errors print one red line; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .._registry import cli_names
from .._registry import model_class as _registry_class
from ..exceptions import LatentFactorsError, ModelFileError
from ._output import console, esc

EXIT_INPUT = 3
EXIT_MODEL_FILE = 4


def model_class(name: str):
    """The model class behind a command-line name (``svd``, ``implicit-als`` ...)."""
    try:
        return _registry_class(name)
    except (ImportError, AttributeError):
        raise click.UsageError(f"model {name!r} is not available in this installation") from None


# ---------------------------------------------------------------------- errors
class Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except LatentFactorsError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            code = EXIT_MODEL_FILE if isinstance(exc, ModelFileError) else EXIT_INPUT
            _fail(f"{type(exc).__name__}: {exc}", code)
        except (OSError, UnicodeError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _fail(f"{type(exc).__name__}: {exc}", EXIT_INPUT)


def _fail(message: str, code: int) -> None:
    console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def _fail(message: str, code: int) -> None:
    console(stderr=True).print(f"[bold red]error:[/] {esc(message)}", markup=True)
    sys.exit(code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latentfactors")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Learn latent factors from user-item data, and put them to work.

    \b
    Start here:
      latentfactors quickstart
    \b
    Then, for example:
      latentfactors fit ratings.csv --model svd --factors 50 -o model.lfm
      latentfactors recommend model.lfm --user 42 -n 10
      latentfactors similar model.lfm --item 50
      latentfactors report model.lfm -o report.html
    \b
    Exit codes: 0 ok, 1 unexpected error, 2 bad usage, 3 bad input
    (data, ids, parameters), 4 unreadable or unsafe model file.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# ---------------------------------------------------------------------- shared options
def data_options(f):
    opts = [
        click.option("--sep", default=None, help="Separator (default: sniffed; '::' works)."),
        click.option("--user-col", default=None, help="User column name or 0-based position."),
        click.option("--item-col", default=None, help="Item column name or position."),
        click.option("--rating-col", default=None, help="Rating column (explicit data)."),
        click.option("--weight-col", default=None, help="Weight / count column (implicit)."),
        click.option("--timestamp-col", default=None, help="Timestamp column."),
        click.option("--names", default=None, help="Comma-separated column names (no header)."),
        click.option("--no-header", is_flag=True, help="The file has no header line."),
        click.option("--implicit", is_flag=True, help="Treat the data as implicit feedback."),
        click.option("--encoding", default="utf-8", show_default=True),
        click.option(
            "--duplicates",
            type=click.Choice(["raise", "first", "last", "mean", "sum"]),
            default="raise",
            show_default=True,
            help="What to do with repeated (user, item) pairs.",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def load_data(path: str, opts: dict[str, Any]):
    """Interactions (and item metadata, if any) from a MovieLens / Last.fm folder or a
    file, columns guessed by the readers; what was guessed goes to stderr in one line."""
    from ..data import read_path

    names = opts.get("names")
    ds, note = read_path(
        path, sep=opts.get("sep"), user=opts.get("user_col"), item=opts.get("item_col"),
        rating=opts.get("rating_col"), weight=opts.get("weight_col"),
        timestamp=opts.get("timestamp_col"),
        names=[n.strip() for n in names.split(",")] if names else None,
        header=False if opts.get("no_header") else None, implicit=bool(opts.get("implicit")),
        encoding=opts.get("encoding") or "utf-8", duplicates=opts.get("duplicates") or "raise",
    )  # fmt: skip
    if note and not opts.get("quiet"):
        console(stderr=True).print(f"[dim]{esc(note)}[/]")
    return ds


def parse_id(vocab, text: str):
    """A raw id from the command line, as the model's vocabulary stores it."""
    if text in vocab:
        return text
    try:
        as_int = int(text)
    except ValueError:
        return text
    return as_int if as_int in vocab else text


def _load_model(path: str):
    from .persistence import load

    return load(path)


def load_model(path: str):
    from ..persistence import load

    return load(path)


def model_options(f):
    opts = [
        click.option("--model", "model_name", type=click.Choice(cli_names()),
                     default="svd", show_default=True, help="Which model to fit."),
        click.option("--factors", type=int, default=None, help="Number of latent factors."),
        click.option("--epochs", type=int, default=None, help="Training epochs."),
        click.option("--lr", type=float, default=None, help="Learning rate (SGD models)."),
        click.option("--reg", type=float, default=None, help="L2 regularization."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--threads", type=int, default=None, help="Kernel threads (default all)."),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Any other model parameter, e.g. --set alpha=2 (repeatable)."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_model(model_name: str, factors, epochs, lr, reg, seed, threads, settings):
    cls = model_class(model_name)
    model = cls()
    params = model.get_params()
    chosen: dict[str, Any] = {"random_state": seed}
    for key, val in (("n_factors", factors), ("n_epochs", epochs), ("lr", lr), ("reg", reg),
                     ("n_threads", threads)):  # fmt: skip
        if val is not None:
            if key not in params:
                raise click.UsageError(f"model {model_name!r} has no parameter {key!r}")
            chosen[key] = val
    for item in settings:
        if "=" not in item:
            raise click.UsageError(f"--set expects KEY=VALUE, got {item!r}")
        key, val = item.split("=", 1)
        chosen[key.strip()] = value(val.strip())
    if "random_state" not in params:
        chosen.pop("random_state")
    return model.set_params(**chosen)
