"""Parameter schemas of the study's components: each dataset, encoder and regularizer declares its
own parameters where it is defined, and config validation asks here by kind and name.

Why: config validation should not hard-code which keys (and ranges) every dataset, encoder or
regularizer takes; that knowledge lives beside the code that uses the parameters, so adding a
component (or a plugin, see ``spikesparse.plugins``) needs no edit of ``spikesparse.study.config``.
This module is the leaf the components import to declare themselves; ``spikesparse.study.registry``
finds a component by kind and name and checks a config's parameters against its schema.

A schema maps each parameter name to a JSON-schema fragment (``type``, ``enum``, ``minimum``,
``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``items``, ``default``, ...); an empty
fragment accepts any value. Declared on:

- a regularizer class: ``param_schema`` (its ``params`` tuple is derived from it; a plugin that
  sets only ``params`` accepts any value for those keys);
- a dataset generator or encoder function: a ``param_schema`` attribute (``declare`` sets it,
  with flags such as ``static``); a plugin dataset without one accepts any parameters. A dataset
  read from files also declares ``check`` (params -> problems), which config validation runs.

A ``default`` is filled into the config where the key is missing: datasets use this (their
defaults are part of every run spec); regularizers and encoders leave their defaults in their
signatures, so a run spec carries only what the config sets.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import jsonschema

# Rule -> how a broken rule reads ("must be >= 0, got -1").
_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def declare(param_schema: dict[str, dict], **flags) -> Callable:
    """Decorator: attach ``param_schema`` and flags (e.g. ``static=True``) to a component function."""

    def mark(fn: Callable) -> Callable:
        fn.param_schema = param_schema  # type: ignore[attr-defined]
        for flag, value in flags.items():
            setattr(fn, flag, value)
        return fn

    return mark


def key_path(parts) -> str:
    """``["a", "b", 0]`` -> ``a.b[0]`` (``<root>`` when empty)."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _cause(error: jsonschema.ValidationError) -> str:
    got = error.instance
    if error.validator in _BOUNDS:
        return f"must be {_BOUNDS[error.validator]} {error.validator_value}, got {got!r}"
    if error.validator == "enum":
        return f"must be one of {error.validator_value}, got {got!r}"
    if error.validator == "type":
        kinds = error.validator_value
        kinds = " or ".join(kinds) if isinstance(kinds, list) else kinds
        return f"must be of type {kinds}, got {type(got).__name__} {got!r}"
    return f"{error.message} (rule: {error.validator})"


def check_params(schema: dict[str, dict] | None, params: dict, owner: str) -> list[str]:
    """Problems of ``params`` against ``schema``, each ``'<key path>: <cause>'``; missing keys with
    a ``default`` are filled into ``params`` in place (in schema order). ``schema=None`` accepts
    any parameters. ``owner`` names the component in messages ("regularizer 'spike_count'")."""
    if schema is None:
        return []
    allowed = f"allowed: {sorted(schema)}" if schema else "it takes none"
    errors = [f"{key}: not a parameter of {owner} ({allowed})" for key in params if key not in schema]
    for key, rule in schema.items():
        if key not in params:
            if "default" in rule:
                params[key] = copy.deepcopy(rule["default"])
            continue
        for error in jsonschema.Draft202012Validator(rule).iter_errors(params[key]):
            errors.append(f"{key_path([key, *error.absolute_path])}: {_cause(error)}")
    return errors


def regularizer_schema(cls) -> dict[str, dict]:
    """A Regularizer class's parameter schema: one fragment per name in ``params`` (empty when
    the class declares none for it, as a plugin with only ``params`` does)."""
    declared = getattr(cls, "param_schema", {}) or {}
    return {name: declared.get(name, {}) for name in cls.params}
