"""Training augmentation in tf.data, outside the model: crops, flips, RandAugment, MixUp, CutMix.

Images are float32 pixels in [0, 255], channels last: (H, W, C) per example, (B, H, W, C)
per batch.

- `augment_images(dataset, mode, input_shape, seed)`: per-example augmentation of an
  unbatched `(image, label)` dataset. "basic" is the CNN papers' augmentation: for
  inputs of at least 64 px the Inception random resized crop (Szegedy et al. 2015,
  "Going deeper with convolutions", https://arxiv.org/abs/1409.4842, with
  torchvision's `RandomResizedCrop` sampling) and a horizontal flip; for smaller
  inputs (CIFAR) the pad-and-crop and flip of He et al. 2016 ("Deep Residual Learning
  for Image Recognition", https://arxiv.org/abs/1512.03385, section 4.2).
  "randaugment" adds RandAugment (Cubuk et al. 2020, https://arxiv.org/abs/1909.13719)
  made of the operations of `keras.layers.RandAugment`.
- `mix_batch(...)` / `mix_dataset(...)`: MixUp (Zhang et al. 2018, "mixup: Beyond
  Empirical Risk Minimization", https://arxiv.org/abs/1710.09412) and CutMix (Yun et
  al. 2019, "CutMix: Regularization Strategy to Train Strong Classifiers with
  Localizable Features", https://arxiv.org/abs/1905.04899) on batches, returning
  one-hot soft labels.
- `sample_beta(alpha, shape, seed)`: Beta(alpha, alpha) draws from two Gamma draws.

Every random draw is a stateless op whose seed is derived from the element's (or
batch's) own seed, drawn from `tf.data.Dataset.random(seed)`: a parallel `map` then
gives the same result whatever order its threads run in, so a fresh pipeline with the
same seed yields the same sequence, and each epoch draws new seeds.

TensorFlow is imported lazily, inside the functions.
"""

from __future__ import annotations

import functools
import math

from keras_archs.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_int_sequence,
    check_positive_float,
    is_int,
)

__all__ = [
    "AUGMENT_MODES",
    "augment_images",
    "mix_batch",
    "mix_dataset",
    "sample_beta",
]

AUGMENT_MODES = ("none", "basic", "randaugment")
# Below this side, images are CIFAR-sized: a random resized crop of a 32x32 image keeps
# too few pixels, so the pad-and-crop of the CIFAR papers is used instead.
RESIZED_CROP_MIN_SIZE = 64
# The operations of keras.layers.RandAugment, in its order; each is an attribute of the
# layer (a Keras preprocessing layer) holding the magnitudes the layer configured.
RANDAUGMENT_OPS = (
    "random_shear",
    "random_translation",
    "random_rotation",
    "random_brightness",
    "random_color_degeneration",
    "random_contrast",
    "random_sharpness",
    "random_posterization",
    "solarization",
    "auto_contrast",
    "equalization",
)
# Tags folded into the per-element seeds so that augmentation and mixing never draw
# from the same random stream, even with the same user seed.
_AUGMENT_STREAM = 1
_MIX_STREAM = 2


def check_image_shape(input_shape):
    """`(height, width, channels)` of positive integers, as a tuple (exactly three)."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            "input_shape must be (height, width, channels) of positive integers; "
            f"got input_shape={input_shape!r}."
        )
    return check_int_sequence("input_shape", input_shape, minimum=1, min_length=3)


def _stateless_seed(seed):
    """An int or a shape-(2,) integer tensor, as the (2,) int64 seed stateless ops take."""
    import tensorflow as tf

    if is_int(seed) or isinstance(seed, bool):
        return tf.constant([check_int("seed", seed, minimum=0), 0], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if seed.shape != (2,) or not seed.dtype.is_integer:
        raise ValueError(
            f"seed must be an integer >= 0 or an integer tensor of shape (2,); got seed={seed!r}."
        )
    return tf.cast(seed, tf.int64)


def _split(seed, n):
    import tensorflow as tf

    return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def sample_beta(alpha, shape, seed, dtype="float32"):
    """Draws from Beta(alpha, alpha) as X / (X + Y), X and Y ~ Gamma(alpha) (stateless).

    `seed`: an integer, or a shape-(2,) integer tensor (a stateless seed). The Gamma
    draws are float64 so that for small alpha (X and Y then sit near 0) their sum does
    not underflow to 0; the result is cast to `dtype` ("float32" or "float64"; float32
    rounds draws within 6e-8 of 1 to exactly 1).
    """
    import tensorflow as tf

    alpha = check_positive_float("alpha", alpha)
    check_choice("dtype", dtype, ("float32", "float64"))
    seed_x, seed_y = _split(_stateless_seed(seed), 2)
    x = tf.random.stateless_gamma(shape, seed_x, alpha=alpha, dtype=tf.float64)
    y = tf.random.stateless_gamma(shape, seed_y, alpha=alpha, dtype=tf.float64)
    total = x + y
    # Both draws exactly 0 has probability ~1e-60 in float64; keep it from being a NaN.
    draw = tf.where(total > 0, x / tf.where(total > 0, total, 1.0), 0.5)
    return tf.cast(draw, dtype)


@functools.cache
def _element_seeds_class():
    """A Keras `SeedGenerator` that hands out seeds derived from one per-element tensor.

    Keras' random ops accept a `SeedGenerator` as `seed` and call its `next()`; a real
    generator keeps its state in a variable that parallel tf.data threads would race on.
    This one returns a fresh stateless seed derived from the element's own seed at each
    call, so the layers' draws depend on the element alone. Its `__init__` does not run
    the base class' (which would create the state variable).
    """
    import keras
    import tensorflow as tf

    class ElementSeeds(keras.random.SeedGenerator):
        def __init__(self, base):
            self.base = base
            self.count = 0

        def next(self, ordered=True):
            self.count += 1
            return tf.random.experimental.stateless_fold_in(self.base, self.count)

    return ElementSeeds


def _random_resized_crop(image, size, seed, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), tries=10):
    """Inception's crop, sampled as torchvision's `RandomResizedCrop.get_params`.

    Up to `tries` draws of an area fraction (uniform in `scale`) and an aspect ratio
    (log-uniform in `ratio`); the first box that fits is taken at a uniform position.
    If none fits, the central box of the whole image with its ratio clamped into
    `ratio`. The box is resized to `size`.
    """
    import tensorflow as tf

    area_seed, ratio_seed, top_seed, left_seed = _split(seed, 4)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    h_float, w_float = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    target_area = h_float * w_float * tf.random.stateless_uniform([tries], area_seed, *scale)
    aspect = tf.exp(
        tf.random.stateless_uniform([tries], ratio_seed, math.log(ratio[0]), math.log(ratio[1]))
    )
    crop_w = tf.cast(tf.round(tf.sqrt(target_area * aspect)), tf.int32)
    crop_h = tf.cast(tf.round(tf.sqrt(target_area / aspect)), tf.int32)
    fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    found = tf.reduce_any(fits)

    in_ratio = w_float / h_float
    fallback_w = tf.where(
        in_ratio > ratio[1], tf.cast(tf.round(h_float * ratio[1]), tf.int32), width
    )
    fallback_h = tf.where(
        in_ratio < ratio[0], tf.cast(tf.round(w_float / ratio[0]), tf.int32), height
    )
    box_h = tf.where(found, crop_h[first], fallback_h)
    box_w = tf.where(found, crop_w[first], fallback_w)
    top = tf.where(
        found,
        tf.random.stateless_uniform([], top_seed, 0, height - box_h + 1, dtype=tf.int32),
        (height - box_h) // 2,
    )
    left = tf.where(
        found,
        tf.random.stateless_uniform([], left_seed, 0, width - box_w + 1, dtype=tf.int32),
        (width - box_w) // 2,
    )
    crop = image[top : top + box_h, left : left + box_w]  # keeps the static channels
    return tf.image.resize(crop, size, antialias=True)


def _pad_and_crop(image, size, channels, seed):
    """He et al.'s CIFAR crop: zero-pad 4 px (at 32 px, scaled with the size), crop back."""
    import tensorflow as tf

    pad = max(1, round(4 * min(size) / 32))
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return tf.image.stateless_random_crop(padded, (*size, channels), seed)


def _randaugment_transform(num_ops, factor):
    """Per-image RandAugment with `keras.layers.RandAugment`'s operations and magnitudes.

    Cubuk et al. draw `num_ops` operations uniformly (with replacement) and apply them in
    turn. The Keras layer draws its random numbers from a stateful generator (which
    parallel tf.data threads would race on) and computes all eleven operations for each
    of the `num_ops` slots before selecting one; here each slot runs only the operation
    drawn (`tf.switch_case`), with the element's stateless seeds: the same images and
    magnitudes, about nine times faster on the CPU at 224 px.
    """
    import keras
    import tensorflow as tf

    # float32 whatever the global dtype policy, so a mixed-precision run does not
    # quantise the pixels.
    layer = keras.layers.RandAugment(
        value_range=(0, 255), num_ops=num_ops, factor=factor, dtype="float32"
    )
    ops = [getattr(layer, name) for name in RANDAUGMENT_OPS]
    for op in ops:
        # The layers run inside tf.data: TensorFlow ops whatever Keras' backend is
        # (keras.layers.RandAugment switches its own layers the same way in a tf graph).
        op.backend.set_backend("tensorflow")

    def transform(image, seed):
        static_shape = image.shape
        choice_seed, *op_seeds = _split(seed, 1 + num_ops)
        choices = tf.random.stateless_uniform([num_ops], choice_seed, 0, len(ops), dtype=tf.int32)
        batch = image[None]
        for slot in range(num_ops):
            seeds = _element_seeds_class()(op_seeds[slot])

            def branch(op, batch=batch, seeds=seeds):
                def apply():
                    params = op.get_random_transformation(batch, training=True, seed=seeds)
                    out = op.transform_images(batch, params, training=True)
                    return tf.cast(out, tf.float32)

                return apply

            batch = tf.switch_case(choices[slot], [branch(op) for op in ops])
        return tf.ensure_shape(batch[0], static_shape)

    return transform


def augment_images(
    dataset,
    mode,
    input_shape,
    seed=0,
    *,
    horizontal_flip=True,
    randaugment_ops=2,
    randaugment_factor=0.5,
):
    """Maps an unbatched `(image, label)` dataset through the random augmentation `mode`.

    Args:
        dataset: unbatched `tf.data.Dataset` of `(image, label)`, images (H, W, C) of
            pixels in [0, 255] (float or uint8). For inputs of at least 64 px the images
            may have any size (the random resized crop outputs `input_shape`); below
            that they must already have `input_shape`.
        mode: "none" (the dataset is returned unchanged), "basic" (random resized crop
            and horizontal flip, or pad-and-crop and flip below 64 px) or
            "randaugment" (basic, then RandAugment).
        input_shape: `(height, width, channels)` of the output images.
        seed: integer >= 0; the same seed gives the same sequence from a fresh pipeline.
        horizontal_flip: False for data whose mirror image is another class or no
            image of the data at all (digits, text).
        randaugment_ops, randaugment_factor: `num_ops` and `factor` of
            `keras.layers.RandAugment` (its defaults: 2 operations; factor 0.5, which
            Keras maps to, e.g., rotations of up to half a turn and shifts of up to half
            the image).

    Returns:
        The mapped dataset (`num_parallel_calls=AUTOTUNE`, deterministic order), images
        float32 in [0, 255] of `input_shape`.
    """
    check_choice("mode", mode, AUGMENT_MODES)
    height, width, channels = check_image_shape(input_shape)
    seed = check_int("seed", seed, minimum=0)
    check_bool("horizontal_flip", horizontal_flip)
    randaugment_ops = check_int("randaugment_ops", randaugment_ops, minimum=1)
    randaugment_factor = check_float("randaugment_factor", randaugment_factor, 0.0, 1.0)
    if mode == "none":
        return dataset
    import tensorflow as tf

    size = (height, width)
    small = min(size) < RESIZED_CROP_MIN_SIZE
    randaugment = (
        _randaugment_transform(randaugment_ops, randaugment_factor)
        if mode == "randaugment"
        else None
    )

    def transform(example, random):
        image, label = example
        seed_pair = tf.stack([random, tf.constant(_AUGMENT_STREAM, tf.int64)])
        crop_seed, flip_seed, randaugment_seed = _split(seed_pair, 3)
        image = tf.ensure_shape(tf.cast(image, tf.float32), (None, None, channels))
        if small:
            image = _pad_and_crop(image, size, channels, crop_seed)
        else:
            image = _random_resized_crop(image, size, crop_seed)
        if horizontal_flip:
            image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        if randaugment is not None:
            image = randaugment(image, randaugment_seed)
        return tf.ensure_shape(image, (height, width, channels)), label

    seeds = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip(dataset, seeds).map(transform, num_parallel_calls=tf.data.AUTOTUNE)


def _check_alphas(mixup_alpha, cutmix_alpha):
    return (
        check_float("mixup_alpha", mixup_alpha, minimum=0.0),
        check_float("cutmix_alpha", cutmix_alpha, minimum=0.0),
    )


def _mixup(images, soft, partner, seed, alpha):
    import tensorflow as tf

    lam = sample_beta(alpha, [], seed)
    pixel_lam = tf.cast(lam, images.dtype)
    mixed = pixel_lam * images + (1.0 - pixel_lam) * tf.gather(images, partner)
    return mixed, lam * soft + (1.0 - lam) * tf.gather(soft, partner)


def _cutmix(images, soft, partner, seed, alpha):
    """One box per batch (as the paper's code), label weight = the box's clipped area."""
    import tensorflow as tf

    lam_seed, y_seed, x_seed = _split(seed, 3)
    lam = sample_beta(alpha, [], lam_seed)
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    cut = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * cut, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * cut, tf.int32)
    centre_y = tf.random.stateless_uniform([], y_seed, 0, height, dtype=tf.int32)
    centre_x = tf.random.stateless_uniform([], x_seed, 0, width, dtype=tf.int32)
    top = tf.clip_by_value(centre_y - cut_h // 2, 0, height)
    bottom = tf.clip_by_value(centre_y + cut_h // 2, 0, height)
    left = tf.clip_by_value(centre_x - cut_w // 2, 0, width)
    right = tf.clip_by_value(centre_x + cut_w // 2, 0, width)
    rows = tf.range(height)
    cols = tf.range(width)
    inside = ((rows >= top) & (rows < bottom))[:, None] & ((cols >= left) & (cols < right))[None]
    mixed = tf.where(inside[None, :, :, None], tf.gather(images, partner), images)
    # The box was clipped to the image: weigh the labels by the area actually pasted.
    pasted = tf.cast((bottom - top) * (right - left), tf.float32) / tf.cast(
        height * width, tf.float32
    )
    return mixed, (1.0 - pasted) * soft + pasted * tf.gather(soft, partner)


def mix_batch(images, labels, num_classes, mixup_alpha=0.0, cutmix_alpha=0.0, seed=0):
    """MixUp or CutMix on one batch; returns `(images, one-hot float32 soft labels)`.

    MixUp: lam ~ Beta(mixup_alpha, mixup_alpha), x = lam x + (1 - lam) x[perm] and the
    labels likewise. CutMix: lam ~ Beta(cutmix_alpha, cutmix_alpha), a box of area
    (1 - lam) H W at a uniform centre, clipped to the image, pasted from x[perm]; the
    pasted image's label weight is the pasted area after clipping. `perm` is a random
    permutation of the batch. With both alphas > 0, each batch gets one of the two with
    probability 1/2 (as timm's `Mixup`); an alpha of 0 disables its method, and with
    both 0 the labels are only one-hot encoded.

    Args:
        images: (B, H, W, C) float pixels.
        labels: (B,) integer class indices.
        num_classes: the one-hot width.
        mixup_alpha, cutmix_alpha: Beta parameters, >= 0.
        seed: an integer >= 0 or a shape-(2,) integer tensor (stateless seed).
    """
    import tensorflow as tf

    num_classes = check_int("num_classes", num_classes, minimum=1)
    mixup_alpha, cutmix_alpha = _check_alphas(mixup_alpha, cutmix_alpha)
    seed = _stateless_seed(seed)
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float32)
    soft = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), num_classes, dtype=tf.float32)
    if not mixup_alpha and not cutmix_alpha:
        return images, soft
    perm_seed, choice_seed, mixup_seed, cutmix_seed = _split(seed, 4)
    batch = tf.shape(images)[0]
    partner = tf.argsort(tf.random.stateless_uniform([batch], perm_seed))
    if not cutmix_alpha:
        return _mixup(images, soft, partner, mixup_seed, mixup_alpha)
    if not mixup_alpha:
        return _cutmix(images, soft, partner, cutmix_seed, cutmix_alpha)
    use_cutmix = tf.random.stateless_uniform([], choice_seed) < 0.5
    return tf.cond(
        use_cutmix,
        lambda: _cutmix(images, soft, partner, cutmix_seed, cutmix_alpha),
        lambda: _mixup(images, soft, partner, mixup_seed, mixup_alpha),
    )


def mix_dataset(dataset, num_classes, mixup_alpha=0.0, cutmix_alpha=0.0, seed=0):
    """`mix_batch` over a batched `(images, integer labels)` dataset, seeded per batch.

    Returns the dataset of `(images, one-hot float32 soft labels)`; the same seed gives
    the same sequence from a fresh pipeline, and each epoch draws new mixes.
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    mixup_alpha, cutmix_alpha = _check_alphas(mixup_alpha, cutmix_alpha)
    seed = check_int("seed", seed, minimum=0)
    import tensorflow as tf

    def mix(example, random):
        images, labels = example
        batch_seed = tf.stack([random, tf.constant(_MIX_STREAM, tf.int64)])
        return mix_batch(images, labels, num_classes, mixup_alpha, cutmix_alpha, batch_seed)

    seeds = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip(dataset, seeds).map(mix, num_parallel_calls=tf.data.AUTOTUNE)
