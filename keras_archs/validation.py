"""Argument checks shared by every module: layers, builders, data, training, export.

Each check takes `(name, value, ...)`, returns the (normalised) value, and raises a
`ValueError` or `TypeError` whose message names the argument, the value given and
what is accepted, so bad input fails before any tensor work with a message a user
can act on. Nothing is clamped or silently corrected.
"""

from __future__ import annotations

import math
import os

__all__ = [
    "check_bool",
    "check_choice",
    "check_file",
    "check_float",
    "check_initializer",
    "check_int",
    "check_int_sequence",
    "check_options",
    "check_pair",
    "check_positive_float",
    "check_positive_int",
    "check_positive_int_or_none",
    "check_rate",
    "check_string",
    "is_int",
]


def is_int(value):
    """True for Python and NumPy integers; False for bools (True is not a size)."""
    import numpy as np

    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _bounds_text(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_int(name, value, minimum=None, maximum=None, allow_none=False):
    """An integer within [minimum, maximum] (None where `allow_none`)."""
    if value is None and allow_none:
        return None
    if (
        not is_int(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        accepted = f"an integer{_bounds_text(minimum, maximum)}"
        if allow_none:
            accepted += " or None"
        error = TypeError if not is_int(value) and not isinstance(value, float) else ValueError
        if isinstance(value, bool):
            error = TypeError
        raise error(f"{name} must be {accepted}; got {name}={value!r}.")
    return int(value)


def check_positive_int(name, value):
    return check_int(name, value, minimum=1)


def check_positive_int_or_none(name, value):
    return check_int(name, value, minimum=1, allow_none=True)


def check_float(
    name,
    value,
    minimum=None,
    maximum=None,
    allow_none=False,
    exclusive_minimum=False,
    exclusive_maximum=False,
):
    """A finite real number within the bounds (ints are accepted and returned as float)."""
    if value is None and allow_none:
        return None
    import numpy as np

    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if ok:
        value = float(value)
        ok = math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if exclusive_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if exclusive_maximum else value <= maximum
    if not ok:
        low = "(" if exclusive_minimum else "["
        high = ")" if exclusive_maximum else "]"
        if minimum is not None and maximum is not None:
            accepted = f"a number in {low}{minimum}, {maximum}{high}"
        elif minimum is not None:
            accepted = f"a number {'>' if exclusive_minimum else '>='} {minimum}"
        elif maximum is not None:
            accepted = f"a number {'<' if exclusive_maximum else '<='} {maximum}"
        else:
            accepted = "a finite number"
        if allow_none:
            accepted += " or None"
        raise ValueError(f"{name} must be {accepted}; got {name}={value!r}.")
    return value


def check_rate(name, value):
    """A dropout-style rate in [0, 1)."""
    return check_float(name, value, minimum=0.0, maximum=1.0, exclusive_maximum=True)


def check_positive_float(name, value):
    return check_float(name, value, minimum=0.0, exclusive_minimum=True)


def check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {name}={value!r}.")
    return value


def check_string(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        accepted = "a non-empty string" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {accepted}; got {name}={value!r}.")
    return value


def check_choice(name, value, choices):
    """One of `choices` (compared with ==; unhashable values are refused, not crashed on)."""
    try:
        found = value in choices
    except TypeError:
        found = False
    if not found:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {name}={value!r}."
        )
    return value


def check_pair(name, value):
    """A positive int or a pair of positive ints, as a tuple of two."""
    if is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints; got {name}={value!r}.")
    for v in value:
        check_positive_int(name, v)
    return tuple(int(v) for v in value)


def check_int_sequence(name, value, minimum=1, min_length=1):
    """A non-empty list or tuple of integers >= `minimum`, returned as a tuple."""
    if (
        not isinstance(value, (list, tuple))
        or len(value) < min_length
        or not all(is_int(v) and v >= minimum for v in value)
    ):
        raise ValueError(
            f"{name} must be a list or tuple of at least {min_length} integer(s) >= {minimum}; "
            f"got {name}={value!r}."
        )
    return tuple(int(v) for v in value)


def check_file(name, value):
    """The path of an existing file."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path to an existing file; got {name}={value!r}.")
    if not os.path.isfile(value):
        raise ValueError(
            f"{name} must be a path to an existing file; got {name}={os.fspath(value)!r}, "
            "which is not one."
        )
    return os.fspath(value)


def check_options(name, options, accepted):
    """Refuses keys of the dict `options` that are not in `accepted` (so a misspelt option
    is reported instead of silently ignored)."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"Unknown option(s) {', '.join(map(repr, unknown))} for {name}; accepted: "
            f"{', '.join(map(repr, sorted(accepted))) or 'none'}."
        )
    return options


def check_initializer(name, value):
    """A Keras initializer name, config or instance (Keras is asked whether it exists)."""
    import keras

    try:
        keras.initializers.get(value)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{name} must be a Keras initializer name, config or instance; got {name}={value!r}."
        ) from e
    return value
