"""Errors every layer raises, in a module that imports nothing: the command line reports them
even where the study's dependencies (the ``workflow`` extra) are not installed."""


class ConfigError(ValueError):
    """A config value breaks a rule; the message names the key path and the rule."""
