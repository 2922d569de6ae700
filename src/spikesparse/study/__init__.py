"""The study's workflow code: config and its schema, the component registry, runs, paths, data,
encoding, training, evaluation and run records; ``analysis`` (metric catalog, tables, statistics,
claims, replication) and ``report`` (figures, notebook, the report's table index).

Layer rule (tests/test_layers.py): the study imports the core (``spikesparse.*`` at the top) and
itself, never ``spikesparse.tools`` or the command line (``spikesparse.cli``)."""
