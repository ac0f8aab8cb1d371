"""The ``latentfactors`` command line, one module per job.

``_app`` (the group, error handling, shared options), ``_output`` (consoles, tables,
progress; everything printed is escaped for rich), ``train`` (fit, cv, tune), ``query``
(info, predict, recommend, similar, explain, evaluate), ``report`` and ``quickstart``.
Commands of optional parts (``latentfactors.serving``) join through their module's
``COMMANDS`` list, imported only when that module exists; they import their heavy
dependencies inside the command, so ``latentfactors --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging

from . import query, quickstart, report, train  # noqa: F401  (they register commands)
from ._app import EXIT_INPUT, EXIT_MODEL_FILE, main, model_class

__all__ = ["EXIT_INPUT", "EXIT_MODEL_FILE", "main", "model_class"]

#: modules of optional parts that may add commands (the Dask backend adds none: it is
#: ``fit --dask``; naming a module that does not exist would still import its package)
_PLUGINS = ("latentfactors.serving.cli",)


def _register_plugins() -> None:
    for name in _PLUGINS:
        try:
            module = importlib.import_module(name)
        except ImportError:  # the optional part is not there (or lacks its extra)
            logging.getLogger("latentfactors").debug("no commands from %s", name, exc_info=True)
            continue
        for command in getattr(module, "COMMANDS", []):
            if command.name not in main.commands:
                main.add_command(command)


_register_plugins()

if __name__ == "__main__":  # pragma: no cover
    main()
