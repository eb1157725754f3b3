"""Controller policies over per-layer choices for REINFORCE, and their probability trajectories.

* :class:`IndependentPolicy`: one logit vector per layer (the choices of a layer are
  drawn independently of the others).
* :class:`LSTMPolicy`: NASNet/ENAS-style autoregressive controller -- an LSTM cell
  reads the previous layer's choice (an embedding) and a per-layer head gives the
  next layer's logits.

Both sample with ``torch.no_grad`` and give ``log_prob(genomes)`` / ``entropy`` with
gradients for the update. Layers with fewer choices than the widest are masked.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from ...io import save_figure


def _mask(num_choices: Sequence[int]) -> torch.Tensor:
    width = int(max(num_choices))
    return torch.arange(width)[None, :] >= torch.as_tensor(list(num_choices))[:, None]  # True = no such choice


class IndependentPolicy(nn.Module):
    def __init__(self, num_choices: Sequence[int]):
        super().__init__()
        self.register_buffer("invalid", _mask(num_choices))
        self.logits = nn.Parameter(torch.zeros(self.invalid.shape))

    def _dist(self) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(logits=self.logits.masked_fill(self.invalid, -1e9))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` genomes and the per-layer choice probabilities they were drawn with ``(n, layers, width)``."""
        probs = self._dist().probs
        draws = torch.multinomial(probs, n, replacement=True, generator=generator).T
        return draws.numpy().astype(np.int64), probs.expand(n, -1, -1).numpy()

    def log_prob_entropy(self, genomes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = self._dist()
        return dist.log_prob(genomes).sum(dim=1), dist.entropy().sum().expand(len(genomes))


class LSTMPolicy(nn.Module):
    def __init__(self, num_choices: Sequence[int], hidden: int = 64):
        super().__init__()
        self.register_buffer("invalid", _mask(num_choices))
        layers, width = self.invalid.shape
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embed = nn.Embedding(layers * width, hidden)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.Parameter(torch.zeros(layers, hidden, width))  # zero: uniform at the start
        self.width = width

    def _step_logits(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        return (h @ self.heads[layer]).masked_fill(self.invalid[layer], -1e9)

    def _run(self, n: int, genomes: torch.Tensor | None, generator: torch.Generator | None):
        layers = self.invalid.shape[0]
        x = self.start.expand(n, -1)
        state = None
        chosen, log_probs, entropies, probs = [], [], [], []
        for layer in range(layers):
            state = self.cell(x, state)
            dist = torch.distributions.Categorical(logits=self._step_logits(state[0], layer))
            if genomes is None:
                c = torch.multinomial(dist.probs, 1, generator=generator).squeeze(1)
            else:
                c = genomes[:, layer]
            chosen.append(c)
            log_probs.append(dist.log_prob(c))
            entropies.append(dist.entropy())
            probs.append(dist.probs)
            x = self.embed(c + layer * self.width)
        return (torch.stack(chosen, 1), torch.stack(log_probs, 1).sum(1), torch.stack(entropies, 1).sum(1),
                torch.stack(probs, 1))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
        genomes, _, _, probs = self._run(n, None, generator)
        return genomes.numpy().astype(np.int64), probs.numpy()

    def log_prob_entropy(self, genomes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, log_prob, entropy, _ = self._run(len(genomes), genomes, None)
        return log_prob, entropy


POLICIES = {"independent": IndependentPolicy, "lstm": LSTMPolicy}


def probability_columns(num_choices: Sequence[int]) -> list[str]:
    return [f"p_l{layer}_c{c}" for layer, k in enumerate(num_choices) for c in range(int(k))]


def plot_trajectories(frame: pd.DataFrame, num_choices: Sequence[int], path: "str | Path",
                      title: str = "controller choice probabilities") -> Path:
    """One panel per layer: the probability of each choice against the policy update."""
    layers = len(num_choices)
    cols = min(4, layers)
    rows = (layers + cols - 1) // cols
    fig = Figure(figsize=(3.0 * cols, 2.2 * rows))
    FigureCanvasAgg(fig)
    for layer, k in enumerate(num_choices):
        ax = fig.add_subplot(rows, cols, layer + 1)
        for c in range(int(k)):
            ax.plot(frame["update"], frame[f"p_l{layer}_c{c}"], lw=1.2, label=f"choice {c}")
        ax.set_ylim(0, 1)
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.grid(alpha=0.3)
        if layer == 0:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(path, fig, dpi=110)
