"""Errors every layer raises, in a module that imports nothing: the command line reports them
even where the study's dependencies (the ``workflow`` extra) are not installed."""


class ConfigError(ValueError):
    """A config value breaks a rule; the message names the key path and the rule."""


class MissingInputError(ConfigError):
    """A file or folder a step reads is absent (a study not run or not finished, a wrong path);
    the message names it and what makes it, so the command line reports one line, not a
    traceback."""


# OSErrors whose cause is the path itself: missing, a folder where a file belongs, a path through a
# file, not readable. The command line names the path in one line (``path_error_text``); a reader
# lets these through and turns any other error about a file's content into an InputFileError.
PATH_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def path_error_text(err: OSError) -> str:
    """One line for one of ``PATH_ERRORS``, naming the path."""
    where = err.filename if err.filename is not None else err
    if isinstance(err, FileNotFoundError):
        return f"no such file or folder: {where}"
    if isinstance(err, IsADirectoryError):
        return f"{where} is a folder, not a file"
    if isinstance(err, NotADirectoryError):
        return f"{where}: a part of this path is a file, not a folder"
    return f"permission denied: {where}"


class InputFileError(ConfigError):
    """A file a step reads exists but cannot be used: empty, truncated, another format, another
    step's file, or data of another dataset than the spec's. The message is one line, ``<path>:
    <what is wrong>; <what it should be>``, as ``local_data.DataFileError`` words a bad dataset
    file."""

    def __init__(self, path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)


class OutputFileError(ConfigError):
    """A file a step writes cannot be written where the user asked: the path is a folder, a part
    of its folder is a file, or the folder does not take new files. The message names the target
    the user gave (never the temporary file it is written through) and the cause:
    ``cannot write <path>: <cause>``."""

    def __init__(self, path, problem: str) -> None:
        super().__init__(f"cannot write {path}: {problem}")
        self.path = str(path)
