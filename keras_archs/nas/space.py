"""The NASNet search space as a sequence of decisions (Zoph et al. 2018, section 3).

A cell has `num_blocks` blocks; each makes five decisions, in the paper's order: a first
hidden state, a second hidden state (from the cell's two inputs and the earlier blocks'
outputs), an operation for each, and how to combine the two results (add or concatenate).
A network has a Normal and a Reduction cell, so a specification is `2 * num_blocks * 5`
decisions: the tokens the controller samples one by one, and that `decode` turns into
the plain-data cell specification `keras_archs.applications.NASNet(cell_spec=...)` builds.
"""

import dataclasses

from keras_archs.applications.nasnet import (
    CELL_KINDS,
    COMBINATIONS,
    OPERATIONS,
    check_cell_spec,
)
from keras_archs.validation import check_int

# Short names for one-line summaries of a cell.
_SHORT = {
    "identity": "id",
    "conv_1x3_3x1": "c13",
    "conv_1x7_7x1": "c17",
    "dil_conv_3x3": "dil3",
    "avg_pool_3x3": "avg3",
    "avg_pool_5x5": "avg5",
    "avg_pool_7x7": "avg7",
    "max_pool_3x3": "max3",
    "max_pool_5x5": "max5",
    "max_pool_7x7": "max7",
    "conv_1x1": "c1",
    "conv_3x3": "c3",
    "sep_conv_3x3": "sep3",
    "sep_conv_5x5": "sep5",
    "sep_conv_7x7": "sep7",
}


@dataclasses.dataclass(frozen=True)
class Decision:
    """One token of a specification: which cell, block and field it sets, and its choices."""

    cell: str
    block: int
    field: str  # "inputs", "ops" or "combine"
    side: int | None  # 0 or 1 for inputs and ops
    choices: tuple


class SearchSpace:
    """The decisions of a Normal and a Reduction cell of `num_blocks` blocks each.

    `decode(tokens)` gives a checked cell specification; `encode(spec)` its tokens (the
    published cells' explicit `concat` aside, which the search leaves to the paper's rule:
    the blocks' outputs that no block takes).
    """

    def __init__(self, num_blocks=5):
        self.num_blocks = check_int("num_blocks", num_blocks, minimum=1)
        self.decisions = []
        for cell in CELL_KINDS:
            for b in range(self.num_blocks):
                states = tuple(range(b + 2))
                self.decisions += [
                    Decision(cell, b, "inputs", 0, states),
                    Decision(cell, b, "inputs", 1, states),
                    Decision(cell, b, "ops", 0, OPERATIONS),
                    Decision(cell, b, "ops", 1, OPERATIONS),
                    Decision(cell, b, "combine", None, COMBINATIONS),
                ]

    @property
    def num_choices(self):
        """How many options each decision has, in order."""
        return [len(d.choices) for d in self.decisions]

    def __len__(self):
        return len(self.decisions)

    def decode(self, tokens):
        """The cell specification of `tokens` (one index per decision), checked."""
        tokens = [int(t) for t in tokens]
        if len(tokens) != len(self.decisions):
            raise ValueError(
                f"tokens: a specification of this space has {len(self.decisions)} decisions; "
                f"got {len(tokens)}."
            )
        spec = {cell: [self._empty() for _ in range(self.num_blocks)] for cell in CELL_KINDS}
        for d, t in zip(self.decisions, tokens):
            if not 0 <= t < len(d.choices):
                raise ValueError(
                    f"tokens: {d.cell} block {d.block} {d.field} takes 0 to "
                    f"{len(d.choices) - 1}; got {t}."
                )
            block = spec[d.cell][d.block]
            if d.side is None:
                block[d.field] = d.choices[t]
            else:
                block[d.field][d.side] = d.choices[t]
        return check_cell_spec(spec)

    def encode(self, spec):
        """The tokens of cell specification `spec` (its `concat` is not a decision)."""
        spec = check_cell_spec(spec)
        tokens = []
        for d in self.decisions:
            blocks = spec[d.cell]["blocks"]
            if len(blocks) != self.num_blocks:
                raise ValueError(
                    f"spec: its {d.cell} cell has {len(blocks)} blocks; this space has "
                    f"{self.num_blocks}."
                )
            value = blocks[d.block][d.field]
            tokens.append(d.choices.index(value if d.side is None else value[d.side]))
        return tokens

    def sample_uniform(self, rng, count):
        """`count` token lists drawn uniformly (the random-search baseline)."""
        return [[int(rng.integers(len(d.choices))) for d in self.decisions] for _ in range(count)]

    @staticmethod
    def summary(spec):
        """A one-line description: "N: sep3(0)+sep5(1) ... | R: ..."."""
        cells = []
        for cell in CELL_KINDS:
            parts = []
            for block in spec[cell]["blocks"]:
                a, b = (f"{_SHORT[o]}({i})" for o, i in zip(block["ops"], block["inputs"]))
                parts.append(f"{a}{'+' if block['combine'] == 'add' else '|'}{b}")
            cells.append(f"{cell[0].upper()}: {' '.join(parts)}")
        return " / ".join(cells)

    @staticmethod
    def _empty():
        return {"inputs": [0, 0], "ops": [OPERATIONS[0]] * 2, "combine": "add"}
