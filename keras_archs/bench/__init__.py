"""Speed, measured: floating-point operations of a model (`count_flops`, `model_flops`),
the timings behind `keras-archs bench` (`bench`: throughput against the machine's
measured peak, `machine_peak`, and against the library a user would otherwise pick, in
one process), and the operations of a traced training step (`training_graph_ops`), which
compare two implementations of one network where timings are too noisy to."""

from keras_archs.bench.flops import count_flops, model_flops
from keras_archs.bench.graph import training_graph_ops
from keras_archs.bench.measure import bench, machine_peak

__all__ = ["bench", "count_flops", "machine_peak", "model_flops", "training_graph_ops"]
