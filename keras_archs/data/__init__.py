"""tf.data pipelines by dataset name.

`load_dataset(name, ...)` returns a `DatasetBundle` of batched, prefetched
`tf.data.Dataset`s for training and validation. A name is one of:

- a registered dataset (`list_datasets()`): scikit-learn's bundled 8x8 digits
  (`digits`, in `images`), the sequence tasks of `tasks` (`addition`,
  `adding_problem`, `copy_memory`, `sequential_digits`, `sequential_mnist`) and the
  text corpora of `text` (`python_stdlib`, `tiny_shakespeare`, ...);
- a tensorflow-datasets image set (`mnist`, `cifar10`, ...), downloaded on first use;
- the path of an image folder with one sub-folder per class, or of a text folder (one
  sub-folder of `.txt` files per class: BERT classification).

A registered dataset takes options (`dataset_options(name)`, e.g. `T=200`); any other
option is refused with the list of the accepted ones. To add a dataset, decorate a
loader with `@register_dataset("name")`: its keyword-only arguments (each with a
default) are its options, and it returns a `DatasetBundle`. Modules: `datasets` (the
registry, `load_dataset`, the tensorflow-datasets download), `images`, `tasks`,
`text` (corpora, tokenizers, packing) and `bert` (BERT pre-training and fine-tuning
examples).

TensorFlow is imported lazily, inside the loaders, so `import keras_archs`
works without it.
"""

from keras_archs.data import (
    bert,  # noqa: F401  (registers imdb_reviews)
    images,  # noqa: F401  (registers digits)
    tasks,  # noqa: F401  (registers the sequence tasks)
    text,  # noqa: F401  (registers python_stdlib and the text sets)
)
from keras_archs.data.datasets import (
    DatasetBundle,
    DatasetUnavailableError,
    dataset_options,
    is_online,
    list_datasets,
    load_dataset,
    register_dataset,
)

__all__ = [
    "DatasetBundle",
    "DatasetUnavailableError",
    "dataset_options",
    "is_online",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
