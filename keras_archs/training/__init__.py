"""Training: precision and XLA policy, and the fit loop used by the CLI.

tf.distribute (when added) is imported lazily here, like TensorFlow in `data/`.
"""

from keras_archs.training.fit import TrainResult, plot_history, train
from keras_archs.training.policy import Policy, choose_policy, current_device

__all__ = ["Policy", "TrainResult", "choose_policy", "current_device", "plot_history", "train"]
