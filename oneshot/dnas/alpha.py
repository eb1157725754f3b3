"""Architecture parameters (one logit vector per layer) and the three relaxations' draws.

Every draw takes a ``torch.Generator`` seeded by ``(seed, step)`` and is made on the CPU, so
a resumed run and every DDP rank draw the same paths and noise at the same step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from ..space.arch import Arch


def step_generator(seed: int, step: int, salt: int) -> torch.Generator:
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) * 31 + int(salt))


class ArchParameters(nn.Module):
    """``logits[l, c]``: layer ``l``'s logit for candidate ``c`` (padded to the widest layer;
    the padding is masked to probability 0)."""

    def __init__(self, num_choices: Sequence[int]):
        super().__init__()
        counts = [int(n) for n in num_choices]
        width = max(counts)
        self.logits = nn.Parameter(torch.zeros(len(counts), width))
        mask = torch.arange(width)[None, :] < torch.tensor(counts)[:, None]
        self.register_buffer("mask", mask, persistent=False)
        self.counts = counts

    def masked(self) -> torch.Tensor:
        return self.logits.masked_fill(~self.mask, float("-inf"))

    def probs(self) -> torch.Tensor:
        """``softmax(alpha)`` per layer (``(layers, width)``, zero on the padding)."""
        return torch.softmax(self.masked(), dim=-1)

    def derived(self) -> Arch:
        """The argmax of every layer."""
        return Arch(self.masked().argmax(dim=-1).tolist())


def gumbel(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=generator).clamp_(1e-10, 1 - 1e-10)
    return -torch.log(-torch.log(u))


def gumbel_softmax(alpha: ArchParameters, tau: float, generator: torch.Generator) -> torch.Tensor:
    """FBNet: ``softmax((alpha + g) / tau)`` per layer (differentiable in alpha)."""
    logits = alpha.masked()
    noise = gumbel(logits.shape, generator).to(logits.device)
    return torch.softmax((logits + noise) / tau, dim=-1)


def gumbel_hard(alpha: ArchParameters, tau: float, generator: torch.Generator) -> tuple[torch.Tensor, Arch]:
    """GDAS: one-hot of ``argmax(alpha + g)`` whose gradient is the Gumbel-softmax's
    (straight-through), and the sampled arch."""
    soft = gumbel_softmax(alpha, tau, generator)
    index = soft.argmax(dim=-1)
    hard = torch.zeros_like(soft).scatter_(-1, index[:, None], 1.0)
    return hard - soft.detach() + soft, Arch(index.tolist())


def sample_arch(alpha: ArchParameters, generator: torch.Generator) -> Arch:
    """ProxylessNAS weight step: one active path per layer, drawn from ``softmax(alpha)``."""
    probs = alpha.probs().detach().float().cpu()
    return Arch(torch.multinomial(probs, 1, generator=generator)[:, 0].tolist())


@dataclass
class BinaryGates:
    """ProxylessNAS alpha step: per layer the two sampled candidates ``pairs[l]``, which of
    them is active, and the gates (value: one-hot on the active one; gradient: that of
    ``softmax(alpha[l, pair])``)."""

    pairs: list[tuple[int, int]]
    active: list[int]  # 0 or 1: position in the pair
    gates: torch.Tensor  # (layers, 2)

    @property
    def arch(self) -> Arch:
        return Arch(p[a] for p, a in zip(self.pairs, self.active))


def binary_gates(alpha: ArchParameters, generator: torch.Generator) -> BinaryGates:
    probs = alpha.probs().detach().float().cpu()
    pairs_t = torch.multinomial(probs, 2, replacement=False, generator=generator)  # (layers, 2)
    logits = alpha.logits.gather(1, pairs_t.to(alpha.logits.device))
    p2 = torch.softmax(logits, dim=-1)
    active = torch.multinomial(p2.detach().float().cpu(), 1, generator=generator)[:, 0]
    onehot = torch.zeros_like(p2).scatter_(-1, active.to(p2.device)[:, None], 1.0)
    return BinaryGates([tuple(map(int, p)) for p in pairs_t.tolist()], active.tolist(), onehot - p2.detach() + p2)


@torch.no_grad()
def rescale_pairs(alpha: ArchParameters, pairs: Sequence[tuple[int, int]], before: torch.Tensor) -> None:
    """After a ProxylessNAS alpha step: shift each layer's two updated logits so their
    log-sum-exp is what it was (the unsampled candidates keep their probability)."""
    index = torch.tensor(pairs, device=alpha.logits.device)
    old = before.gather(1, index)
    new = alpha.logits.gather(1, index)
    offset = torch.logsumexp(new, dim=-1, keepdim=True) - torch.logsumexp(old, dim=-1, keepdim=True)
    alpha.logits.scatter_(1, index, new - offset)
