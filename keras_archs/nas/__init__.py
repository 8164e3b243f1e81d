"""Neural architecture search: the NASNet search space, its controller and the search loop.

`SearchSpace` turns a cell specification into the decisions a controller makes and
back; `Controller` is the LSTM policy trained with REINFORCE (Zoph & Le 2017; Zoph et
al. 2018); `search` samples children, trains each through `keras_archs.training.train`,
rewards the controller with their validation accuracy and compares it with random
search (CLI: `keras-archs search`). The children are `keras_archs.applications.
NASNetCustom` networks, which build any specification.
"""

from keras_archs.nas.controller import Controller
from keras_archs.nas.search import SearchConfig, evaluate_child, read_log, search
from keras_archs.nas.space import Decision, SearchSpace

__all__ = [
    "Controller",
    "Decision",
    "SearchConfig",
    "SearchSpace",
    "evaluate_child",
    "read_log",
    "search",
]
