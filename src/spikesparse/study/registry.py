"""The registry of the study's components: a dataset, encoder or regularizer by kind and name
(built-in or plugin), its parameter schema, and the check of a config's parameters against it.

Why apart from ``components``: the datasets and encoders import ``components`` to declare their
parameters, and this module imports them to look them up; one module doing both was an import
circle. Config validation (``spikesparse.study.config``) asks here.
"""

from __future__ import annotations

from collections.abc import Callable

from .components import check_params, regularizer_schema

KINDS = ("dataset", "encoder", "regularizer")


def dataset_generator(name: str, section: dict) -> Callable:
    """The function that builds dataset ``name`` from its config section: a built-in by name or
    the plugin the section's ``generator`` names. ValueError when there is neither."""
    from ..plugins import resolve_dataset
    from .data import GENERATORS

    if "generator" in section:
        return resolve_dataset(section["generator"])
    if name not in GENERATORS:
        raise ValueError(
            f"{name!r} is not a built-in dataset ({sorted(GENERATORS)}); a dataset of your own needs "
            "'generator' (module:function or an entry point of group spikesparse.datasets)"
        )
    return GENERATORS[name]


def dataset_is_static(name: str, section: dict) -> bool:
    """Whether a dataset holds one feature vector per sample (its generator's ``static`` flag);
    ValueError for a static plugin dataset, which is not supported yet."""
    if "generator" in section:
        from ..plugins import dataset_is_static as plugin_static

        return plugin_static(section["generator"])
    from ..plugins import declares_static

    return declares_static(dataset_generator(name, section))


def component(kind: str, name: str, params: dict | None = None):
    """The component ``name`` of ``kind`` (a dataset also needs its config section as ``params``);
    ValueError naming the known ones when there is no such component."""
    if kind == "regularizer":
        from ..plugins import resolve_regularizer

        return resolve_regularizer(name)
    if kind == "encoder":
        from .encoding import ENCODERS

        if name not in ENCODERS:
            raise ValueError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}")
        return ENCODERS[name]
    if kind == "dataset":
        return dataset_generator(name, params or {})
    raise ValueError(f"unknown component kind {kind!r}; known: {list(KINDS)}")


def param_schema(kind: str, name: str, params: dict | None = None) -> dict[str, dict] | None:
    """The parameter schema of component ``name`` of ``kind`` (None: any parameters)."""
    found = component(kind, name, params)
    if kind == "regularizer":
        return regularizer_schema(found)
    return getattr(found, "param_schema", None)


# Why a dataset needs validation samples: every choice the study makes (a method's operating
# lambda, a conversion's alpha, which runs are admitted) is made on the validation split, never on
# test; with no validation samples its metrics are NaN and the runs still read "ok".
_WHY_VALIDATION = "the study's choices are made on the validation split; without samples its metrics are NaN"


def _validation_size(schema: dict | None, params: dict) -> list[str]:
    """A dataset's validation split must hold samples: ``n_val`` >= 1, ``val_fraction`` > 0,
    where the dataset declares them (checked after the schema, so both are numbers here)."""
    schema = schema or {}
    errors = []
    n_val, fraction = params.get("n_val"), params.get("val_fraction")
    if "n_val" in schema and isinstance(n_val, int) and n_val < 1:
        errors.append(f"n_val: must be >= 1, got {n_val!r} ({_WHY_VALIDATION})")
    if "val_fraction" in schema and isinstance(fraction, int | float) and fraction <= 0:
        errors.append(f"val_fraction: must be > 0, got {fraction!r} ({_WHY_VALIDATION})")
    return errors


def validate_params(kind: str, name: str, params: dict, read_files: bool = True) -> list[str]:
    """Problems of component ``name``'s ``params`` (``'<key>: <cause>'``, key relative to the
    params block); defaults are filled in place. A dataset's ``generator`` key is not a parameter.
    ``read_files=False`` leaves out a file-backed dataset's check of its files, for a caller that
    reads them next anyway (its reader raises the same errors). ValueError when ``name`` is no
    component of ``kind``."""
    schema = param_schema(kind, name, params)
    owner = {"dataset": "dataset", "encoder": "the encoder", "regularizer": "regularizer"}[kind]
    if kind == "dataset" and "generator" in params:
        plugin = {k: v for k, v in params.items() if k != "generator"}
        errors = check_params(schema, plugin, f"dataset {name!r}")
        params.update(plugin)  # filled defaults, after the keys the config set
        return errors or _validation_size(schema, plugin)
    errors = check_params(schema, params, f"{owner} {name!r}")
    if kind == "dataset" and not errors:
        errors = _validation_size(schema, params)
    check = (
        getattr(component(kind, name, params), "check", None) if kind == "dataset" and read_files else None
    )
    if not errors and check is not None:
        # A dataset read from files checks them here (spikesparse.study.local_data: missing, truncated,
        # wrong shape or labels, checksum), so a broken folder fails config validation.
        errors = check(params)
    return errors
