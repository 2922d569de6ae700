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
import math
import re
from collections.abc import Callable

import jsonschema

# Rule -> how a broken rule reads ("must be >= 0, got -1").
_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _is_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# Every validator the config layer builds (the config schema, each component's parameters).
# Why not jsonschema's own: to it 3.0 is an integer (JSON has one number type), so `epochs: 3.0`
# or `n_train: 64.0` passed and the job failed later ("'float' object cannot be interpreted as an
# integer"); here "integer" is a Python int, never a float or a bool.
Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)

# A number as YAML 1.1 reads one: a dot, and a sign in the exponent (1e-3 and 1.0e3 are text).
_NUMBER_TEXT = re.compile(r"^\s*([-+]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?)([0-9]+))?\s*$")


def _as_yaml_number(text: str, integer: bool) -> str | None:
    """How to write ``text`` so that YAML reads the number: 1e-3 -> 1.0e-3, 1e3 -> 1.0e+3 (an
    integer slot: 1000); None when it is no finite number or needs no rewriting."""
    import yaml

    match = _NUMBER_TEXT.match(text)
    if not match or not (match.group(2) or match.group(3)):
        return None
    value = float(text)
    if not math.isfinite(value):
        return None
    if integer:
        if not value.is_integer():
            return None
        candidate = str(int(value))
    else:
        sign, whole, frac, exp_sign, exp = match.groups()
        candidate = f"{sign}{whole or 0}.{frac or 0}" + (f"e{exp_sign or '+'}{exp}" if exp else "")
    try:
        read = yaml.safe_load(candidate)
    except yaml.YAMLError:
        return None
    return candidate if isinstance(read, int | float) and read == value else None


def type_cause(instance, kinds) -> str | None:
    """Why ``instance`` broke a ``type`` rule, where the cause is a slip of writing; None otherwise.

    A whole-number float in an integer slot (``epochs: 3.0``): "must be an integer, got 3.0 (...)".
    A number YAML 1.1 read as text (``lr: 1e-3`` is the string '1e-3': a YAML float needs a dot
    and a signed exponent) gets how to write it."""
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    want = "an integer" if kinds == ["integer"] else f"of type {' or '.join(kinds)}"
    if "integer" in kinds and "number" not in kinds and isinstance(instance, float):
        if instance.is_integer():
            return (
                f"must be {want}, got {instance!r} (a whole number, written without a decimal "
                f"point: {int(instance)})"
            )
        return f"must be {want}, got {instance!r}"
    if isinstance(instance, str) and {"number", "integer"} & set(kinds):
        import yaml

        try:
            as_text = isinstance(yaml.safe_load(instance), str)
        except yaml.YAMLError:
            as_text = False
        written = _as_yaml_number(instance, "number" not in kinds) if as_text else None
        if written is not None:
            return (
                f"must be {want}, got str {instance!r} (YAML reads {instance.strip()} as text: "
                f"write {written})"
            )
    return None


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
        slip = type_cause(got, kinds)
        if slip is not None:
            return slip
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
        for error in Validator(rule).iter_errors(params[key]):
            errors.append(f"{key_path([key, *error.absolute_path])}: {_cause(error)}")
    return errors


def regularizer_schema(cls) -> dict[str, dict]:
    """A Regularizer class's parameter schema: one fragment per name in ``params`` (empty when
    the class declares none for it, as a plugin with only ``params`` does)."""
    declared = getattr(cls, "param_schema", {}) or {}
    return {name: declared.get(name, {}) for name in cls.params}
