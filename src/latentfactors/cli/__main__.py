"""``python -m latentfactors.cli``."""

from . import main

main()
