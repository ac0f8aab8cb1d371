"""``python -m latentfactors.serving MODEL [options]``: the same as ``latentfactors serve``."""

from .cli import serve

if __name__ == "__main__":  # pragma: no cover
    serve(prog_name="python -m latentfactors.serving")
