"""Development infrastructure: the local stack (`python -m devtools.stack up|down|status`,
behind `make services`/`stop`/`status`) and reproducible fake contacts.

Tests and benchmarks import it; the service never does (the package installs only `app`).
Run from the repository root, which puts this package on the import path.
"""
