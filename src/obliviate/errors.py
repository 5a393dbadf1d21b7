"""Exceptions a user can cause. The CLI turns each into a one-line message and exit code 2."""


def shown(text: str, limit: int = 80) -> str:
    """``repr(text)``, cut short: a message about a 5,000-character argument stays a line."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit - 20]!r}... ({len(text)} characters)"


class ObliviateError(Exception):
    """Bad input from the user: a wrong name, path, value or configuration.

    The message names the bad value and what was expected; it is shown as is.
    """


class ConfigError(ObliviateError):
    """A configuration key or value is not valid for its dataclass."""


class DataError(ObliviateError):
    """Data that cannot be read or does not have the expected shape."""


class ForgetSetError(ObliviateError):
    """A forget-set specification that selects nothing, or data outside the training set."""


class CacheError(ObliviateError):
    """The model cache cannot be read or written (permissions, not a directory, ...)."""


class DivergedError(ObliviateError):
    """A method's update made the weights non-finite (its learning rate is too large)."""
