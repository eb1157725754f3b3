"""REINFORCE controller: a policy over per-layer choices trained on evaluator rewards.

Each generation samples ``samples`` archs from the policy (:mod:`.controller`);
archs that break a hard constraint are rejected before evaluation and redrawn (their
costs are free), the rest go to the problem (an arch seen before costs nothing and
keeps its accuracy). The reward is the accuracy (fraction), or MnasNet's soft reward
``accuracy * (cost / target) ** w`` (Tan et al., CVPR 2019) that trades accuracy for
cost around a target; the hard constraints still hold. The update is REINFORCE with
a moving-average baseline and an entropy bonus. ``controller.csv`` / ``controller.png``
hold the choice probabilities after every update.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import torch
from pymoo.core.algorithm import Algorithm
from pymoo.core.population import Population

from ...io import write_csv
from ...space import Arch
from .controller import POLICIES, plot_trajectories, probability_columns
from .registry import register

logger = logging.getLogger(__name__)


#: per policy, from a few runs on NAS-Bench-Macro: larger rates collapse the LSTM within ~15 updates
DEFAULT_LEARNING_RATE = {"independent": 0.05, "lstm": 0.003}


@dataclass
class ReinforceOptions:
    policy: str = "independent"  # independent | lstm
    samples: int = 8  # archs per policy update
    learning_rate: Optional[float] = None  # Adam; None: 0.05 (independent), 0.003 (lstm)
    baseline_decay: float = 0.9  # moving-average baseline of the reward
    entropy_weight: float = 1e-3
    normalise_advantage: bool = True  # divide advantages by a moving average of their spread
    reward: str = "accuracy"  # accuracy | soft (MnasNet: accuracy * (cost / target) ** w)
    target_metric: str = "flops"
    target: Optional[float] = None  # soft reward: the cost target (default: the constraint on target_metric)
    w: float = -0.07
    max_rounds: int = 50  # rejection sampling rounds for feasible archs
    lstm_hidden: int = 64


class Reinforce(Algorithm):
    def __init__(self, options: ReinforceOptions, target: float | None, **kwargs):
        super().__init__(**kwargs)
        self.options, self.target = options, target
        self.trajectory: list[dict] = []

    def _setup(self, problem, **kwargs) -> None:
        o = self.options
        seed = int(self.random_state.integers(2**31))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            cls = POLICIES[o.policy]
            self.policy = cls(problem.space.num_choices, o.lstm_hidden) if o.policy == "lstm" \
                else cls(problem.space.num_choices)
        self.generator = torch.Generator().manual_seed(seed)
        lr = o.learning_rate if o.learning_rate is not None else DEFAULT_LEARNING_RATE[o.policy]
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=lr)
        self.baseline: float | None = None
        self.spread: float | None = None
        self._record(0, np.nan, None)

    # ------------------------------------------------------------ pymoo hooks
    def _initialize_infill(self) -> Population:
        return self._infill()

    def _infill(self) -> Population:
        self._raw = self._sample_feasible(self.options.samples)
        return Population.new("X", self.problem.canonical(self._raw))

    def _initialize_advance(self, infills=None, **kwargs) -> None:
        self._advance(infills)

    def _advance(self, infills=None, **kwargs) -> None:
        self.pop = infills
        rewards = self._rewards(self.problem.canonical(infills.get("X")))
        ok = np.isfinite(rewards)
        if ok.any():
            self._update(self._raw[ok], rewards[ok])
        self._record(self.n_iter, float(np.nanmean(rewards)) if ok.any() else np.nan, self._probs)

    # ------------------------------------------------------------ steps
    def _sample_feasible(self, n: int) -> np.ndarray:
        problem = self.problem
        kept: list[np.ndarray] = []
        worst: list[tuple[float, np.ndarray]] = []
        for _ in range(self.options.max_rounds):
            raw, probs = self.policy.sample(max(n, 16), self.generator)
            self._probs = probs.mean(axis=0)
            if not problem.limits:
                kept.extend(raw)
            else:
                G = problem.constraint_values(problem.cost_values(problem.canonical(raw)))
                violation = np.clip(G, 0, None).sum(axis=1)
                kept.extend(raw[violation <= 0])
                worst.extend(zip(violation[violation > 0], raw[violation > 0]))
            if len(kept) >= n:
                break
        if len(kept) < n:  # the policy rarely meets the constraints: least violating (never evaluated)
            logger.debug("reinforce: only %d of %d samples feasible after %d rounds", len(kept), n,
                         self.options.max_rounds)
            worst.sort(key=lambda t: t[0])
            kept.extend(g for _, g in worst[: n - len(kept)])
        return np.stack(kept[:n]).astype(np.int64)

    def _rewards(self, genomes: np.ndarray) -> np.ndarray:
        """Reward per sample; NaN where the arch was not evaluated (infeasible, or over budget)."""
        problem, o = self.problem, self.options
        rows = [problem.archive.get(str(Arch(g))) for g in genomes]
        acc = np.array([r["accuracy"] if r is not None and r["evaluated"] else np.nan for r in rows]) / 100.0
        if o.reward == "soft":
            cost = problem.cost_values(genomes)[o.target_metric]
            acc = acc * (cost / self.target) ** o.w
        return acc

    def _update(self, raw: np.ndarray, rewards: np.ndarray) -> None:
        o = self.options
        mean = float(rewards.mean())
        self.baseline = mean if self.baseline is None else o.baseline_decay * self.baseline + (1 - o.baseline_decay) * mean
        advantage = rewards - self.baseline
        if o.normalise_advantage:
            spread = float(np.sqrt(np.mean(advantage ** 2)))
            self.spread = spread if self.spread is None else o.baseline_decay * self.spread + (1 - o.baseline_decay) * spread
            advantage = advantage / max(self.spread, 1e-8)
        log_prob, entropy = self.policy.log_prob_entropy(torch.as_tensor(raw))
        loss = -(torch.as_tensor(advantage, dtype=log_prob.dtype) * log_prob).mean() - o.entropy_weight * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def _record(self, update: int, reward: float, probs: np.ndarray | None) -> None:
        space = self.problem.space
        if probs is None:
            _, probs = self.policy.sample(64, torch.Generator().manual_seed(0))
            probs = probs.mean(axis=0)
        row = {"update": update, "evaluations": self.problem.n_evaluated, "mean_reward": reward,
               "baseline": self.baseline if self.baseline is not None else np.nan}
        values = [probs[layer, c] for layer, k in enumerate(space.num_choices) for c in range(int(k))]
        row.update(zip(probability_columns(space.num_choices), map(float, values)))
        self.trajectory.append(row)

    # ------------------------------------------------------------ files
    def write_files(self, out_dir: Path) -> list[Path]:
        frame = pd.DataFrame(self.trajectory)
        csv = write_csv(Path(out_dir) / "controller.csv", frame)
        png = plot_trajectories(frame, self.problem.space.num_choices, Path(out_dir) / "controller.png",
                                title=f"REINFORCE ({self.options.policy}) choice probabilities")
        return [csv, png]

    def report(self) -> dict:
        return {"controller": pd.DataFrame(self.trajectory)}


@register("reinforce", ReinforceOptions, "REINFORCE controller over per-layer choices (independent or LSTM)")
def make_reinforce(problem, options: ReinforceOptions) -> Reinforce:
    if options.policy not in POLICIES:
        raise ValueError(f"reinforce policy {options.policy!r}: use one of {sorted(POLICIES)}")
    if options.samples < 1:
        raise ValueError(f"reinforce samples must be >= 1, got {options.samples}")
    if options.reward not in ("accuracy", "soft"):
        raise ValueError(f"reinforce reward {options.reward!r}: use accuracy or soft")
    target = None
    if options.reward == "soft":
        if options.target_metric not in problem.metrics:
            raise ValueError(f"soft reward on {options.target_metric!r}: the problem has no such cost "
                             f"(it has {list(problem.metrics)})")
        target = options.target if options.target is not None else problem.limits.get(options.target_metric)
        if target is None or target <= 0:
            raise ValueError(f"soft reward needs a positive target: set search.options.target or a "
                             f"{options.target_metric}_max constraint")
    return Reinforce(options, target)
