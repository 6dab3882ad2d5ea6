"""The [merge] config section (light: the CLI and the UI read it)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.fields import opt

# PEFT's LoraModel.add_weighted_adapter combination types, less `cat` and plain `svd` (rank-growing or
# exact re-factorisations rather than merges; add them here when someone needs them).
METHODS: tuple[str, ...] = ("linear", "ties", "dare_ties", "dare_linear", "magnitude_prune",
                            "ties_svd", "dare_ties_svd", "dare_linear_svd", "magnitude_prune_svd")
USES_DENSITY = frozenset(m for m in METHODS if m != "linear")
SIGN_ELECTION = frozenset(("ties", "dare_ties", "ties_svd", "dare_ties_svd"))
# Methods whose merge sums weighted values: an empty weights list means 1/n each (an average). The TIES
# family already averages the values that agree in sign, so there an empty list means 1 each.
SUMMING = frozenset(("linear", "dare_linear", "magnitude_prune", "dare_linear_svd", "magnitude_prune_svd"))


@dataclass
class MergeSection:
    sources: list[str] = opt([], "adapters to merge: run:<id>[@checkpoint] (best, final, latest or a "
                             "name) or a checkpoint folder; all trained on one base")
    method: str = opt("ties_svd", "PEFT combination type: the *_svd methods merge the weight changes ΔW = B·A "
                      "(TIES etc. on each full ΔW, then an SVD back to a LoRA); the others combine A and B apart",
                      choices=METHODS)
    weights: list[str] = opt([], "one weight per source (after the trained ones); empty: 1 each for the TIES "
                             "family, 1/n each for the summing methods")
    density: float = opt(0.5, "fraction of each adapter's values kept, in (0, 1] (TIES, DARE, magnitude_prune)")
    majority_sign: str = opt("total", "TIES sign election: total (sum of values) or frequency (count)",
                             choices=("total", "frequency"))
    svd_rank: int = opt(0, "rank of the merged adapter for *_svd methods (0: the sum of the source ranks)",
                        min=0, max=4096)
    seed: int = opt(0, "random seed (DARE drops values at random)")
    train: list[str] = opt([], "Strategy B: GRPO runs trained first from [grpo], their adapters merged "
                           "(branch_checkpoint); each item a dimension name (weight 1 on it, 0 elsewhere) or a "
                           "reward_weights spec")
    branch_checkpoint: str = opt("final", "which checkpoint of each trained branch (and the joint run) is merged "
                                 "and compared: final, or best (by GRPO's mean reward of one batch of "
                                 "generations: noisy, and early on it can pick a step before the adapter moved)",
                                 choices=("final", "best"))
    joint: str = opt("off", "Strategy A for the comparison: off, equal (1/9 each) or a reward_weights spec; "
                     "a GRPO run trained alongside the branches, not merged")
    parallel: int = opt(1, "branch runs trained at once", min=1, max=16)
    compare: bool = opt(True, "compare the merge with its sources, the joint run and the base in an eval run "
                        "(stage eval, its settings from [eval]) and summarise it in report/comparison.md")
    compare_with: list[str] = opt([], "more models for the comparison: run:<id>[@checkpoint]")
