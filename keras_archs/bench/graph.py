"""What TensorFlow runs for one training step: the operations of its traced graph.

Timings on a shared 2-core machine move by more than the 5% that separates a fast
model from a slow one, so two implementations of one network are compared here by
what they ask the machine to do, which does not move: `training_graph_ops` traces the
forward pass, the loss and the gradients of one step with `tf.function` and counts the
graph's operations by type (the bodies of functions called inside it included). Two
builds of one architecture (same layers, same parameters) whose counts agree launch the
same kernels, and a count that grows shows where one does extra work (a cast, a
transpose, a reshape per layer).
"""

from __future__ import annotations

import collections


def training_graph_ops(model, x, y, loss) -> collections.Counter:
    """Counts, by TensorFlow op type, the operations of one traced training step of
    `model` on the batch `(x, y)` with the Keras loss `loss` (a loss object or name):
    forward pass in training mode, loss and the gradients of the trainable weights.
    The optimizer's update is left out: it is one per weight whoever built the model.
    Needs the TensorFlow backend."""
    import keras
    import tensorflow as tf  # the graph is TensorFlow's; imported only when counting

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"training_graph_ops traces a TensorFlow graph; the Keras backend is "
            f"{keras.backend.backend()!r}, accepted: 'tensorflow'."
        )
    loss = keras.losses.get(loss)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        return tape.gradient(value, model.trainable_variables)

    graph = step.get_concrete_function(x, y).graph
    ops = collections.Counter(op.type for op in graph.get_operations())
    for function in graph.as_graph_def().library.function:
        ops.update(node.op for node in function.node_def)
    return ops
