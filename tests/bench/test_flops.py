"""`count_flops` / `model_flops`: hand-counted networks, published counts, backends.

Every expected value is written out here, layer by layer, in multiply-adds (MACs); the
counter reports FLOPs, 2 per multiply-add. Bias additions, normalization, activations,
pooling, residual additions and embedding lookups count 0, as in the published counts.
"""

import keras
import pytest

import keras_archs
from keras_archs.bench.flops import count_flops, model_flops
from tests.utils import run_python

# LeNet-5 (keras_archs/applications/lenet.py) on one 32x32x1 image, 10 classes.
LENET5_MACS = (
    28 * 28 * 6 * (5 * 5 * 1)  # C1: 28x28x6 outputs, each a 5x5x1 window
    + 0  # S2: 2x2 average pooling
    + 10 * 10 * 16 * (5 * 5 * 6)  # C3: 10x10x16 outputs, each a 5x5x6 window
    + 0  # S4: 2x2 average pooling, then Flatten to 5*5*16 = 400
    + 400 * 120  # C5: Dense 400 -> 120
    + 120 * 84  # F6: Dense 120 -> 84
    + 84 * 10  # predictions: Dense 84 -> 10
)


def test_lenet5_by_hand():
    assert LENET5_MACS == 416_520
    assert count_flops(keras_archs.create_model("lenet5")) == 2 * LENET5_MACS


def test_model_info_reports_the_forward_flops():
    assert keras_archs.model_info("lenet5")["flops"] == 2 * LENET5_MACS
    # No default size: Seq2Seq's vocabulary comes from the data, TCN's length is open.
    assert keras_archs.model_info("seq2seq")["flops"] is None
    assert model_flops("tcn") is None


def _bottleneck(x, filters, stride, name):
    """keras.applications' ResNet v1 bottleneck (keras_archs' `resnet50` blocks): the
    stride is on the first 1x1 convolution, the shortcut projects when shapes change."""
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_0_bn")(shortcut)
    x = keras.layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_1_bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_2_bn")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_3_bn")(x)
    x = keras.layers.Add()([shortcut, x])
    return keras.layers.Activation("relu")(x)


def test_resnet_bottleneck_block_by_hand():
    # ResNet-50's conv3_block1: 56x56x256 in, 128 filters, stride 2 -> 28x28x512.
    inputs = keras.Input((56, 56, 256))
    block = keras.Model(inputs, _bottleneck(inputs, 128, 2, "conv3_block1"))
    out = 28 * 28  # every convolution of the block outputs 28x28 positions
    macs = (
        out * 512 * (1 * 1 * 256)  # 0_conv: projection shortcut, 1x1 stride 2, 256 -> 512
        + out * 128 * (1 * 1 * 256)  # 1_conv: 1x1 stride 2, 256 -> 128
        + out * 128 * (3 * 3 * 128)  # 2_conv: 3x3, 128 -> 128
        + out * 512 * (1 * 1 * 128)  # 3_conv: 1x1, 128 -> 512
    )
    assert count_flops(block) == 2 * macs == 2 * 295_436_288


def test_a_nested_model_counts_once_per_call():
    # An identity block (no projection) as a functional model, used twice as a layer.
    inputs = keras.Input((14, 14, 64))
    block = keras.Model(inputs, _bottleneck(inputs, 16, 1, "block"), name="block")
    per_call = 14 * 14 * (16 * 64 + 16 * 9 * 16 + 64 * 16)
    assert count_flops(block) == 2 * per_call
    outer_in = keras.Input((14, 14, 64))
    outer = keras.Model(outer_in, block(block(outer_in)))
    assert count_flops(outer) == 2 * 2 * per_call


def test_convolutions_dense_and_einsum_by_hand():
    seq, image, volume = keras.Input((16, 8)), keras.Input((10, 10, 4)), keras.Input((4, 4, 4, 2))
    a = keras.layers.Conv1D(12, 3, groups=4, padding="same")(seq)  # (16, 12)
    a = keras.layers.DepthwiseConv1D(3, depth_multiplier=2)(a)  # (14, 24)
    a = keras.layers.SeparableConv1D(10, 3, strides=2, padding="same")(a)  # (7, 10)
    a = keras.layers.Conv1DTranspose(6, 4, strides=2)(a)  # (16, 6)
    a = keras.layers.EinsumDense("...b,bc->...c", output_shape=5)(a)  # (16, 5)
    a = keras.layers.Dense(3)(a)  # (16, 3): Dense on a rank-3 input
    b = keras.layers.Conv2D(8, 3, groups=2, padding="same")(image)  # (10, 10, 8)
    b = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(b)  # (5, 5, 8)
    b = keras.layers.SeparableConv2D(6, 3, depth_multiplier=2)(b)  # (3, 3, 6)
    b = keras.layers.Conv2DTranspose(4, 2, strides=2)(b)  # (6, 6, 4)
    c = keras.layers.Conv3D(3, 2)(volume)  # (3, 3, 3, 3)
    model = keras.Model([seq, image, volume], [a, b, c])
    macs = (
        16 * 12 * (3 * 8 // 4)  # Conv1D: 16 x 12 outputs, a 3-wide window of 8/4 channels
        + 14 * 24 * 3  # DepthwiseConv1D: 14 x 24 outputs, 3 taps each
        + 7 * 24 * 3  # SeparableConv1D depthwise: 7 positions x 24 channels x 3 taps
        + 7 * 24 * 10  # ... pointwise: 7 positions x 24 -> 10
        + 7 * (4 * 6 * 10)  # Conv1DTranspose: each of 7 inputs scatters a 4 x 6 x 10 kernel
        + 16 * 6 * 5  # EinsumDense: 16 rows x 6 -> 5
        + 16 * 5 * 3  # Dense: 16 rows x 5 -> 3
        + 10 * 10 * 8 * (3 * 3 * 4 // 2)  # Conv2D, 2 groups: 3x3 over 4/2 channels
        + 5 * 5 * 8 * (3 * 3)  # DepthwiseConv2D, stride 2
        + 3 * 3 * 16 * (3 * 3)  # SeparableConv2D depthwise (multiplier 2: 16 channels)
        + 3 * 3 * 16 * 6  # ... pointwise: 16 -> 6
        + 3 * 3 * (2 * 2 * 4 * 6)  # Conv2DTranspose: each of 3x3 inputs scatters 2x2x4x6
        + 3 * 3 * 3 * 3 * (2 * 2 * 2 * 2)  # Conv3D: 27 positions x 3 filters, 2x2x2x2
    )
    assert count_flops(model) == 2 * macs


def test_cross_attention_by_hand():
    # 5 queries of width 8 attend to 7 values of width 6: 3 heads, key_dim 4, value_dim 2.
    query, value = keras.Input((5, 8)), keras.Input((7, 6))
    # A dropout rate keeps Keras on its einsum attention on every backend: JAX's fused
    # dot_product_attention takes no value_dim other than key_dim.
    attention = keras.layers.MultiHeadAttention(3, key_dim=4, value_dim=2, dropout=0.1)
    model = keras.Model([query, value], attention(query, value))
    macs = (
        5 * 8 * (3 * 4)  # query projection
        + 7 * 6 * (3 * 4)  # key projection (the keys are the values)
        + 7 * 6 * (3 * 2)  # value projection
        + 3 * 5 * 7 * 4  # scores QK^T: every head, query and key, key_dim each
        + 3 * 5 * 7 * 2  # AV: every head, query and key, value_dim each
        + 5 * (3 * 2) * 8  # output projection back to the query width
    )
    assert count_flops(model) == 2 * macs


def test_published_multiply_adds():
    def macs(name):
        return model_flops(name) / 2

    # VGG-16 at 224: 15.5 G multiply-adds (torchvision's model table: 15.47 G).
    assert macs("vgg16") == pytest.approx(15.5e9, rel=0.02)
    # MobileNet 1.0-224: 569 M multiply-adds (Howard et al. 2017, Table 8).
    assert macs("mobilenet") == pytest.approx(569e6, rel=0.02)
    # Inception-v3 at 299: 5.7 G multiply-adds (torchvision's model table: 5.71 G).
    assert macs("inception_v3") == pytest.approx(5.7e9, rel=0.02)
    # ResNet-50 at 224. Ours is keras.applications' layout, the paper's: the stride-2 of a
    # stage is on its first 1x1 convolution, 3.8 x 10^9 multiply-adds (He et al. 2016,
    # Table 1). The 4.1 G often quoted is torchvision's v1.5 (stride on the 3x3, which
    # then runs at the input's resolution): a different network, farther than 2% away.
    assert macs("resnet50") == pytest.approx(3.8e9, rel=0.02)
    assert macs("resnet50") != pytest.approx(4.09e9, rel=0.02)


def test_gpt_by_the_transformer_formula():
    V, L, H, d, f, T = 50, 2, 2, 32, 64, 16
    model = keras_archs.applications.GPT(
        vocabulary_size=V,
        num_layers=L,
        num_heads=H,
        hidden_dim=d,
        intermediate_dim=f,
        max_sequence_length=T,
        sequence_length=T,
    )
    # The non-embedding matrices: per block, the query, key, value and output
    # projections (4 d^2) and the feed-forward network (2 d f); each token multiplies
    # each of their weights once.
    kernels = sum(w.numpy().size for w in model.weights if w.path.endswith("/kernel"))
    assert kernels == L * (4 * d * d + 2 * d * f)
    macs = (
        T * kernels
        # Attention, per block and token: d for its score against each of the T keys
        # and d for its share of each of the T values (QK^T and AV over all heads). The
        # causal mask hides half of the keys, but they are computed all the same.
        + L * T * (2 * T * d)
        # The tied output projection: every token's d-vector against the V embeddings.
        + T * d * V
    )
    assert count_flops(model) == 2 * macs


def test_recurrent_layers_by_hand():
    T, F = 12, 5
    model = keras.Sequential(
        [
            keras.Input((T, F)),
            keras.layers.LSTM(7, return_sequences=True),
            keras.layers.Bidirectional(keras.layers.GRU(6, return_sequences=True)),
            keras.layers.SimpleRNN(4),
            keras.layers.Dense(3),
        ]
    )
    # Each step multiplies the step's input and the previous state by the cell's
    # kernels: 4 gates for an LSTM, 3 for a GRU, 1 for a simple RNN.
    macs = (
        T * 4 * 7 * (F + 7)  # LSTM(7) on 5 features
        + 2 * T * 3 * 6 * (7 + 6)  # Bidirectional GRU(6) on 7 features: both directions
        + T * 1 * 4 * (2 * 6 + 4)  # SimpleRNN(4) on the 12 concatenated features
        + 4 * 3  # Dense 4 -> 3 on the last state
    )
    assert count_flops(model) == 2 * macs


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
def test_seq2seq_attention_by_hand(attention):
    S, T, V, E, U = 7, 5, 20, 4, 8  # source and target lengths, vocabulary, embedding, units
    model = keras_archs.create_model(
        "seq2seq",
        vocabulary_size=V,
        embedding_dim=E,
        units=U,
        attention=attention,
        encoder_max_length=S,
        decoder_max_length=T,
    )
    macs = (
        S * 4 * U * (E + U)  # encoder LSTM
        + T * 4 * U * (E + U)  # decoder LSTM
        # Attention: for each target step and source step, a U-wide score (a dot product,
        # or the additive score's contraction with its scale vector) and a U-wide
        # weighted sum of the encoder outputs.
        + T * S * (U + U)
        + T * (2 * U) * U  # attention_combine: Dense on [output; context]
        + T * U * V  # logits
    )
    assert count_flops(model) == 2 * macs


@pytest.mark.parametrize("use_weight_norm", [False, True])
def test_tcn_by_hand(use_weight_norm):
    # Weight normalization convolves with keras.ops instead of a Conv1D sublayer: the
    # same products.
    T = 10
    model = keras_archs.create_model(
        "tcn",
        input_shape=(None, 2),
        nb_filters=4,
        kernel_size=2,
        dilations=(1, 2),
        output_dim=1,
        use_weight_norm=use_weight_norm,
    )
    macs = (
        T * 4 * (2 * 2)  # block 0, conv_1: causal, kernel 2 over 2 channels, 4 filters
        + T * 4 * (2 * 4)  # block 0, conv_2: kernel 2 over 4 channels
        + T * 4 * 2  # block 0, shortcut: 1x1 convolution from 2 to 4 channels
        + 2 * T * 4 * (2 * 4)  # block 1 (dilation 2), conv_1 and conv_2; no shortcut
        + 4 * 1  # the linear head on the last step
    )
    assert count_flops(model, input_shape=(T, 2)) == 2 * macs


@pytest.mark.backend
def test_same_count_under_jax():
    code = """
    from keras_archs.bench.flops import model_flops
    print("counts", model_flops("gpt_mini"), model_flops("bidirectional_rnn"))
    """
    line = next(
        x for x in run_python(code, backend="jax", timeout=300).splitlines() if "counts" in x
    )
    assert line.split()[1:] == [str(model_flops("gpt_mini")), str(model_flops("bidirectional_rnn"))]


def test_bad_input_and_the_patch_is_undone():
    with pytest.raises(TypeError, match=r"model must be a keras.Model.*model='resnet50'"):
        count_flops("resnet50")
    with pytest.raises(ValueError, match="model must be built"):
        count_flops(keras.Sequential([keras.layers.Dense(3)]))
    inputs = keras.Input((None, 4))
    open_length = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="pass input_shape"):
        count_flops(open_length)
    assert count_flops(open_length, input_shape=(10, 4)) == 2 * 10 * 4 * 2
    with pytest.raises(ValueError, match=r"input_shape=\(10, 5\) does not fit"):
        count_flops(open_length, input_shape=(10, 5))
    with pytest.raises(ValueError, match="input_shape must be"):
        count_flops(open_length, input_shape=(10, 0))

    original = vars(keras.layers.Layer)["__call__"]
    # A recurrent cell without a formula is refused, and the counter is removed again.
    conv_lstm = keras.Sequential(
        [keras.Input((3, 8, 8, 2)), keras.layers.ConvLSTM2D(4, 3, padding="same")]
    )
    with pytest.raises(ValueError, match="ConvLSTMCell"):
        count_flops(conv_lstm)
    assert vars(keras.layers.Layer)["__call__"] is original
