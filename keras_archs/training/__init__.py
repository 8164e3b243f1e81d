"""Training: the papers' recipes, the precision and XLA policy, and the one fit path.

`train(name, ...)` (CLI: `keras-archs train`) resolves a run from the model's offline
defaults, its family's `recipe_for(name)` and `choose_policy(name)`, trains it with
`model.fit` and writes a run folder that `train_from_config` repeats.
tf.distribute (when added) is imported lazily here, like TensorFlow in `data/`.
"""

from keras_archs.training.fit import (
    RUN_FILE,
    TrainResult,
    initialize_from,
    load_run_config,
    plot_history,
    prime_gradients,
    resolve_config,
    resume,
    train,
    train_from_config,
    training_preprocessing,
)
from keras_archs.training.policy import (
    Policy,
    bf16_capable,
    choose_jit,
    choose_policy,
    choose_precision,
    cpu_flags,
    current_device,
    describe_policy,
    gpu_capability,
)
from keras_archs.training.recipes import Recipe, make_optimizer, recipe_for

__all__ = [
    "RUN_FILE",
    "Policy",
    "Recipe",
    "TrainResult",
    "bf16_capable",
    "choose_jit",
    "choose_policy",
    "choose_precision",
    "cpu_flags",
    "current_device",
    "describe_policy",
    "gpu_capability",
    "initialize_from",
    "load_run_config",
    "make_optimizer",
    "plot_history",
    "prime_gradients",
    "recipe_for",
    "resolve_config",
    "resume",
    "train",
    "train_from_config",
    "training_preprocessing",
]
