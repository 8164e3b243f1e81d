"""The one registry of keras_archs: model name -> builder and metadata.

Every architecture registers itself here once, next to its builder, with
`@register_model(...)` (timm's pattern). The CLI, the generic test suite, the
benchmarks and the README model table all read this registry; nothing else keeps
a list of models.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import inspect
from collections.abc import Callable
from typing import Any

_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}
_TASKS = ("image_classification", "sequence", "seq2seq", "language_model", "text_encoder")
_PARAM_KINDS = ("total", "trainable")
PREPROCESSING_MODES = ("caffe", "tf", "torch", "scale", None)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Metadata for one registered model.

    Attributes:
        name: registry name (lower case).
        builder: the callable in `keras_archs.applications` that builds it.
        builder_kwargs: arguments always passed to `builder` for this name (a preset).
        family: architecture family, e.g. "resnet".
        paper: citation of the paper that introduced it.
        year: year of that paper.
        default_input_shape: input shape of the reference configuration.
        min_input_size: smallest spatial (or temporal) size the builder accepts.
        task: one of `_TASKS`.
        reference_params: parameter count of the reference configuration
            (`builder(**reference_kwargs)`), or None where no single count applies.
        params_kind: "total" (`count_params()`) or "trainable".
        reference_kwargs: extra keyword arguments of `create_model(name, ...)` that build
            the reference configuration whose size is `reference_params`.
        test_kwargs: keyword arguments for a small, fast build used by the generic tests.
        train_defaults: default dataset and hyper-parameters for `keras-archs train`.
        aliases: other names that resolve to this model.
        feature_layers: for CNNs, the layer whose output each feature-pyramid key
            ("P1".."P5", stride 2**i) of `create_model(name, features_only=True)` is.
        weights: the family's `WEIGHTS` entry of this model's ImageNet file (URLs,
            hashes, origin), which `keras_archs.weights` reads; None without one.
        preprocessing: how pixels in [0, 255] are prepared for this model, one of
            `PREPROCESSING_MODES` (keras.applications' `preprocess_input` modes, "scale"
            for [0, 1], None for non-image models); the export reads it.
        same_blocks_as: the registered model this one repeats with more blocks: the same
            builder, the same kinds of blocks, only other counts per stage (ResNet-101 of
            ResNet-50, DenseNet-201 of DenseNet-121); None otherwise. The generic tests
            run the checks of a builder's code paths (layouts, input sizes, the other
            backends) on that model and the per-size checks on this one.
        model_names: fnmatch patterns of the names the builder gives its models where
            that name depends on the arguments (MobileNet's "mobilenet_0.25_128", as in
            keras.applications); by default the builder's default `name`.
    """

    name: str
    builder: Callable[..., Any]
    family: str
    paper: str
    year: int
    default_input_shape: tuple
    min_input_size: int
    task: str
    reference_params: int | None = None
    params_kind: str = "total"
    reference_kwargs: dict = dataclasses.field(default_factory=dict)
    test_kwargs: dict = dataclasses.field(default_factory=dict)
    train_defaults: dict = dataclasses.field(default_factory=dict)
    aliases: tuple = ()
    builder_kwargs: dict = dataclasses.field(default_factory=dict)
    feature_layers: dict = dataclasses.field(default_factory=dict)
    weights: dict | None = None
    preprocessing: str | None = None
    model_names: tuple = ()
    same_blocks_as: str | None = None

    @property
    def idea(self) -> str:
        """The one idea the architecture is remembered for: its builder's docstring summary."""
        doc = inspect.getdoc(self.builder) or ""
        return " ".join(doc.split("\n\n")[0].split())

    def build(self, **kwargs):
        """Builds the model; `weights` defaults to None so nothing is downloaded."""
        kwargs = {**self.builder_kwargs, **kwargs}
        if _accepts(self.builder, "weights"):
            kwargs.setdefault("weights", None)
        return self.builder(**kwargs)

    def info(self) -> dict:
        return {
            "name": self.name,
            "family": self.family,
            "paper": self.paper,
            "year": self.year,
            "default_input_shape": self.default_input_shape,
            "min_input_size": self.min_input_size,
            "task": self.task,
            "reference_params": self.reference_params,
            "params_kind": self.params_kind,
            "builder": self.builder.__name__,
            "aliases": list(self.aliases),
            "idea": self.idea,
            "feature_layers": dict(self.feature_layers),
            "preprocessing": self.preprocessing,
            "imagenet_weights": self.weights is not None,
            "same_blocks_as": self.same_blocks_as,
        }


def _accepts(fn, argument):
    try:
        return argument in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def register_model(
    name: str,
    *,
    family: str,
    paper: str,
    year: int,
    default_input_shape: tuple,
    min_input_size: int,
    task: str,
    reference_params: int | None = None,
    params_kind: str = "total",
    reference_kwargs: dict | None = None,
    test_kwargs: dict | None = None,
    train_defaults: dict | None = None,
    aliases: tuple = (),
    builder_kwargs: dict | None = None,
    builder: Callable | None = None,
    feature_layers: dict | None = None,
    weights: dict | None = None,
    preprocessing: str | None = None,
    model_names: tuple = (),
    same_blocks_as: str | None = None,
):
    """Registers a builder under `name`. Use as a decorator, or pass `builder=`.

    The same builder may be registered under several names (VGG16 and VGG19 are
    one function family; `bert_tiny` and `bert_base` are one builder with
    different presets in `reference_kwargs`).
    """
    if name != name.lower():
        raise ValueError(f"Registry names are lower case; got name={name!r}.")
    if task not in _TASKS:
        raise ValueError(f"Unknown task={task!r}; expected one of {_TASKS}.")
    if params_kind not in _PARAM_KINDS:
        raise ValueError(f"Unknown params_kind={params_kind!r}; expected one of {_PARAM_KINDS}.")
    if preprocessing not in PREPROCESSING_MODES:
        raise ValueError(
            f"Unknown preprocessing={preprocessing!r}; expected one of {PREPROCESSING_MODES}."
        )

    if same_blocks_as is not None and (
        same_blocks_as not in _REGISTRY or _REGISTRY[same_blocks_as].family != family
    ):
        raise ValueError(
            f"same_blocks_as={same_blocks_as!r} must name a model of family {family!r} "
            "registered before this one."
        )

    def decorator(fn):
        if name in _REGISTRY or name in _ALIASES:
            raise ValueError(f"Model name {name!r} is already registered.")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=fn,
            family=family,
            paper=paper,
            year=year,
            default_input_shape=tuple(default_input_shape),
            min_input_size=min_input_size,
            task=task,
            reference_params=reference_params,
            params_kind=params_kind,
            reference_kwargs=dict(reference_kwargs or {}),
            test_kwargs=dict(test_kwargs or {}),
            train_defaults=dict(train_defaults or {}),
            aliases=tuple(aliases),
            builder_kwargs=dict(builder_kwargs or {}),
            feature_layers=dict(feature_layers or {}),
            weights=dict(weights) if weights else None,
            preprocessing=preprocessing,
            model_names=tuple(model_names),
            same_blocks_as=same_blocks_as,
        )
        for alias in aliases:
            _ALIASES[alias] = name
        return fn

    return decorator(builder) if builder is not None else decorator


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registry names matching an fnmatch `pattern` (aliases are not listed)."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a string such as 'resnet*'; got {pattern!r}.")
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern.lower()))


def get_spec(name: str) -> ModelSpec:
    """The `ModelSpec` of `name` (or of an alias); ValueError with close matches otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"Model name must be a string; got {name!r}.")
    key = name.lower()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        known = sorted(_REGISTRY) + sorted(_ALIASES)
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"Unknown model name={name!r}.{hint} "
            f"Known models: {', '.join(sorted(_REGISTRY))} (see keras_archs.list_models())."
        )
    return _REGISTRY[key]


def find_by_model_name(model_name: str) -> ModelSpec | None:
    """The spec of the model a builder named `model_name` with its default `name` (e.g.
    "resnet50v2" for `resnet50_v2`; MobileNet's names follow its `model_names` patterns),
    or None. An exact lookup: a renamed model is not guessed."""
    for spec in _REGISTRY.values():
        if any(fnmatch.fnmatchcase(model_name, p) for p in spec.model_names):
            return spec
        try:
            default = inspect.signature(spec.builder).parameters["name"].default
        except (KeyError, TypeError, ValueError):
            continue
        if default == model_name or (default is None and spec.name == model_name):
            return spec
    return None


def create_model(name: str, **kwargs):
    """Builds registered model `name`. Never downloads: `weights=None` unless passed."""
    return get_spec(name).build(**kwargs)


def model_info(name: str) -> dict:
    """Metadata of `name`: family, paper, year, default_input_shape, min_input_size, ..."""
    return get_spec(name).info()


def markdown_table() -> str:
    """The README model table, generated from the registry (scripts/update_readme.py)."""
    rows = [
        "| name | builder | family | year | parameters | the idea |",
        "|---|---|---|---|---:|---|",
    ]
    for name in list_models():
        spec = get_spec(name)
        params = "-" if spec.reference_params is None else f"{spec.reference_params:,}"
        if spec.reference_params is not None and spec.params_kind == "trainable":
            params += " trainable"
        alias = f" (alias {', '.join(spec.aliases)})" if spec.aliases else ""
        rows.append(
            f"| `{name}`{alias} | `{spec.builder.__name__}` | {spec.family} | {spec.year} "
            f"| {params} | {spec.idea.replace('|', '/')} |"
        )
    return "\n".join(rows)
