"""spikesparse: which way of keeping a spiking neural network sparse works, at what accuracy cost."""

__version__ = "0.1.0"
