"""tf.data pipelines by dataset name.

`load_dataset(name, ...)` returns a `DatasetBundle` of batched, prefetched
`tf.data.Dataset`s for training and validation. A name is one of:

- an offline dataset registered here (`digits`: scikit-learn's bundled 8x8
  handwritten digits) or a sequence task of `keras_archs.data.tasks` (`addition`,
  `adding_problem`, `copy_memory`, `sequential_digits`, `sequential_mnist`);
- a tensorflow-datasets name (`mnist`, `cifar10`, ...), downloaded on first use;
- the path of an image folder with one sub-folder per class.

TensorFlow is imported lazily, inside the loaders, so `import keras_archs`
works without it.
"""

from keras_archs.data import (
    tasks,  # noqa: F401  (registers the sequence tasks)
    text,  # noqa: F401  (registers python_stdlib and text sets)
)
from keras_archs.data.images import (
    DatasetBundle,
    DatasetUnavailableError,
    list_datasets,
    load_dataset,
    register_dataset,
)

__all__ = [
    "DatasetBundle",
    "DatasetUnavailableError",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
