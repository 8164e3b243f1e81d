import numpy as np
import pytest

from keras_archs.layers import AdaptiveAveragePooling2D
from tests.layers.helpers import np_out


def _reference(x, out_h, out_w):
    """torch.nn.AdaptiveAvgPool2d's bins: floor(i*H/h) to ceil((i+1)*H/h)."""
    h, w = x.shape[1:3]
    y = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            r0, r1 = (i * h) // out_h, -(-((i + 1) * h) // out_h)
            c0, c1 = (j * w) // out_w, -(-((j + 1) * w) // out_w)
            y[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return y


@pytest.mark.parametrize(("size", "out"), [((13, 13), (6, 6)), ((5, 7), (3, 2)), ((2, 3), (6, 6))])
def test_matches_torch_bin_rule(size, out):
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    layer = AdaptiveAveragePooling2D(out)
    y = np_out(layer(x))
    assert y.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, _reference(x, *out), atol=1e-5)


def test_bad_output_size():
    with pytest.raises(ValueError, match="output_size"):
        AdaptiveAveragePooling2D(0)
