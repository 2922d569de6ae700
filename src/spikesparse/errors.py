"""Errors every layer raises, in a module that imports nothing: the command line reports them
even where the study's dependencies (the ``workflow`` extra) are not installed."""


class ConfigError(ValueError):
    """A config value breaks a rule; the message names the key path and the rule."""


class MissingInputError(ConfigError):
    """A file or folder a step reads is absent (a study not run or not finished, a wrong path);
    the message names it and what makes it, so the command line reports one line, not a
    traceback."""
