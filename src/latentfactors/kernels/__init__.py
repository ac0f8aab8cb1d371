"""numba kernels: arrays in, arrays out; one epoch (or half-step) per call.

Nothing here imports from ``latentfactors.models`` or ``latentfactors.data``. Importing
a kernel module compiles nothing; numba compiles on first call and caches to disk.
"""
