"""Shared checks for the ImageNet CNN builders: feature pyramids, memorisation.

keras.applications' input contract (any size without the top, 1 and 4 channels,
input_tensor, pooling, classifier_activation, bad input, channels_first) is checked for
every image model of the registry by tests/test_input_contract.py.
"""

import keras
import numpy as np

import keras_archs
from keras_archs.registry import get_spec


def check_feature_pyramid(name, expected_layers, size=64, expected_sizes=None):
    """`features_only=True`: a dict P1..P5 from the registry's layers, at stride 2**i."""
    assert get_spec(name).feature_layers == expected_layers
    model = keras_archs.create_model(name, features_only=True, input_shape=(size, size, 3))
    assert isinstance(model.output, dict) and sorted(model.output) == [f"P{i}" for i in range(1, 6)]
    sizes = expected_sizes or [size // 2**i for i in range(1, 6)]
    for i, expected in zip(range(1, 6), sizes):
        key = f"P{i}"
        layer_output = model.get_layer(expected_layers[key]).output
        assert model.output[key] is layer_output
        assert tuple(model.output[key].shape[1:3]) == (expected, expected), key
    return model


def memorises(model, input_shape, jit_compile, preprocess, steps=12, optimizer=None):
    """Fits one fixed batch of 8 preprocessed random images (4 classes) for `steps` steps;
    returns (first loss, last loss).

    The cost on the 2-core CI machine is the TensorFlow trace and compilation of the
    training step, not the steps, so the check keeps that small:

    - One compile mode per model. XLA for ResNet-18 only, the cheapest deep model to
      compile with it; graph mode (the CPU policy's choice: it never uses XLA on
      TensorFlow) for the others. The JAX backend checks already compile every family's
      training step with XLA, and an XLA compile of a deep CNN costs tens of seconds
      here (MobileNet's depthwise convolutions also step 13x slower under it).
    - Plain SGD (learning rate 0.01) unless `optimizer` is given: Adam traces about ten
      operations and creates two slot variables per weight, which was half of the
      trace of a model with hundreds of weights (MobileNetV2: 24 s with Adam, 11 s with
      SGD). VGG, which has no normalisation, passes its own optimizer.
    - The optimizer's variables are created before `fit`: created inside the first
      call of the training function, they make TensorFlow trace it twice.
    """
    rng = np.random.default_rng(0)
    x = preprocess(rng.uniform(0, 255, (8, *input_shape)).astype("float32"))
    y = np.arange(8) % 4
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(0.01),
        loss="sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    model.optimizer.build(model.trainable_variables)
    history = model.fit(x, y, batch_size=8, epochs=steps, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    return losses[0], losses[-1]
