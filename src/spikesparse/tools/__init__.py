"""Tooling around the study: warm start of its jobs (``warm``), stale-lock recovery
(``snakelock``), the generated README and docs blocks (``readme``), the study's and the kernels'
benchmark tables (``studybench``, ``kernel_report``).

Layer rule (tests/test_layers.py): tools import the core and the study, never the command line
(``spikesparse.cli``), which dispatches to them."""
