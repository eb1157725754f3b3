"""`RankOptions`: what a ranking check samples, compares with and reports (``rank.*``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import ground_truth as gt
from .constrained import BAND_LOW, DEFAULT_CAPS
from .ranking import PROXIES
from .zero_cost import ZERO_COST_PROXIES


@dataclass
class RankOptions:
    """The ranking app's settings: ``rank.*`` in ``conf/rank.yaml`` (this class is the Hydra schema)."""

    ground_truth: str = "nas_bench_macro"  # nas_bench_macro | standalone | csv
    ground_truth_path: str | None = None  # csv: the file; standalone: the store; nas_bench_macro: the json
    table_seed: int | None = None  # nas_bench_macro: None = mean_acc, 0..2 = one seed's test_acc
    arch_column: str = "arch"  # csv columns
    accuracy_column: str = "accuracy"
    sample: str = "space"  # space: stratified sample of the space | ground_truth: of the archs it knows
    sample_size: int | None = 100  # None = every candidate
    sample_seed: int = 0
    strata: int = 10  # FLOPs quantile bins
    pool: int = 20_000  # random draws behind the sample when the space is larger than this
    top_k: int = 10
    precision_top: float = 0.2  # precision@k counts hits in the ground truth's best 20 %
    bootstrap: int = 1000  # resamples for the tau confidence interval (0 = none)
    confidence: float = 0.95
    plot: bool = True
    zero_cost: list[str] = field(default_factory=lambda: list(ZERO_COST_PROXIES))  # [] = none
    zero_cost_batch: int = 64  # training images in the zero-cost minibatch
    zero_cost_seed: int = 0  # network init and minibatch draw
    fuse: str | None = None  # a proxy to fuse with the supernet by mean normalised rank (fixed in advance)
    caps: list[float] = field(default_factory=lambda: list(DEFAULT_CAPS))  # FLOPs caps of bands and picks
    band_low: float = BAND_LOW  # band below a cap: band_low * cap <= FLOPs <= cap
    band_sample: int = 0  # archs per band: extra archs drawn inside each band top it up to this (0 = none)
    picks: bool = True  # free proxies' and random picks over the whole ground-truth table (cheap)
    zero_cost_picks: bool = False  # zero-cost proxies' picks: scores every table arch under the largest cap (slow)
    search_picks: bool = False  # NSGA-II over the supernet per cap and seed (the expensive part)
    pick_budget: int = 300  # distinct evaluations per NSGA-II pick
    pick_seeds: int = 3  # search seeds 0..pick_seeds-1

    def check(self) -> None:
        if self.ground_truth not in gt.KINDS:
            raise ValueError(f"rank.ground_truth={self.ground_truth!r}: use one of {list(gt.KINDS)}")
        if self.sample not in ("space", "ground_truth"):
            raise ValueError(f"rank.sample={self.sample!r}: use space or ground_truth")
        if self.ground_truth == "csv" and not self.ground_truth_path:
            raise ValueError("rank.ground_truth=csv needs rank.ground_truth_path=<file.csv> (columns arch, accuracy)")
        if self.sample_size is not None and self.sample_size < 2:
            raise ValueError(f"rank.sample_size={self.sample_size}: a ranking needs at least 2 archs")
        if self.top_k < 1 or self.strata < 1 or self.bootstrap < 0:
            raise ValueError("rank.top_k and rank.strata must be >= 1, rank.bootstrap >= 0")
        unknown = sorted(set(self.zero_cost) - set(ZERO_COST_PROXIES))
        if unknown:
            raise ValueError(f"rank.zero_cost: unknown proxies {unknown}; available: {list(ZERO_COST_PROXIES)}")
        if self.fuse is not None and self.fuse not in (*PROXIES, *self.zero_cost):
            raise ValueError(f"rank.fuse={self.fuse!r}: fuse one of the report's proxies "
                             f"{[*PROXIES, *self.zero_cost]} (add it to rank.zero_cost)")
        if not self.caps or min(self.caps) <= 0 or not 0 <= self.band_low < 1:
            raise ValueError("rank.caps must be positive FLOPs values and rank.band_low in [0, 1)")
        if self.band_sample < 0:
            raise ValueError(f"rank.band_sample={self.band_sample}: archs per FLOPs band must be >= 0 (0 = none)")
        if self.pick_budget < 1 or self.pick_seeds < 1 or self.zero_cost_batch < 2:
            raise ValueError("rank.pick_budget and rank.pick_seeds must be >= 1, rank.zero_cost_batch >= 2")
