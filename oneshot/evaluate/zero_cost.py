"""Zero-cost proxies: score an arch's stand-alone network at initialisation, no training.

Each proxy follows its paper and NASLib's implementation
(``naslib/predictors/utils/pruners/measures``; Zen-score from Zen-NAS's
``ZeroShotProxy/compute_zen_score.py``). Bigger = predicted better. Gradient proxies
run the network in train mode (BN on batch statistics), as NASLib does; "layers" are
the ``Conv2d`` and ``Linear`` modules.

* ``synflow`` (Tanaka et al. 2020): BN removed, |weights|, float64, one all-ones input;
  sum over layers of |W * dR/dW| with R the sum of the outputs.
* ``snip`` (Lee et al. 2019): sum of |W * dL/dW| (= |dL/dmask| at mask 1), L the
  cross-entropy on the minibatch.
* ``grad_norm``: sum over layers of the L2 norm of dL/dW.
* ``fisher`` (Turner et al. 2020): per output channel k of a layer, 0.5 * mean over
  images of (sum over positions of activation * dL/dactivation)^2; NASLib spreads each
  channel's value over the channel's weights before summing, so each channel counts
  ``fan-in`` times (W.shape[1:] elements) -- kept here.
* ``jacob_cov`` (Mellor et al. 2020, v1): J = d(sum of outputs)/d(input) per image;
  with C the correlation matrix of J's rows and v its eigenvalues,
  -sum(log(v + 1e-5) + 1 / (v + 1e-5)).
* ``naswot`` (Mellor et al. 2021): binary code c_i of every ReLU's input per image;
  K = sum over ReLUs of (c c^T + (1 - c)(1 - c)^T); score = log|det K|.
* ``zen`` (Lin et al. 2021): Gaussian weights (std 1), Gaussian inputs x and
  x + 0.01 e; log of mean over images of ||f(x) - f(x + 0.01 e)||_1 of the features
  before global pooling, plus sum over BN layers of log sqrt(mean channel variance).
  The variance is the batch variance on x (the paper's sigma_i); Zen-NAS's code reads
  ``running_var`` after two momentum-0.1 updates, which mostly keeps the initial 1.

The network is :meth:`SubNet.build` under a fixed seed, with one change: the project's
init zeroes the last BN of every residual block (so a block starts as the identity),
which would hide residual blocks from every gradient proxy; the proxies are defined
for the standard init (BN scale 1), which is restored here.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import runtime
from ..data.tensors import ImageData
from ..space.costs import CostModel
from ..space.space import SearchSpace
from .cache import EvalCache
from .supernet_evaluator import canonical_archs

log = logging.getLogger(__name__)

#: the zero-cost proxies, in report order
ZERO_COST_PROXIES = ("synflow", "snip", "grad_norm", "fisher", "jacob_cov", "naswot", "zen")
#: score given to a network where a proxy is undefined (NaN / -inf: e.g. a singular NASWOT kernel): ranked last
UNDEFINED_SCORE = -1e30

_LAYERS = (nn.Conv2d, nn.Linear)


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, _LAYERS)]


# ------------------------------------------------------------------ proxies (net: images -> logits)
def synflow(net: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    net = copy.deepcopy(net).double()
    for name, module in list(net.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, nn.Identity())
    with torch.no_grad():
        for p in net.state_dict().values():
            p.abs_()
    net.zero_grad()
    net(torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)).sum().backward()
    with torch.no_grad():
        return float(sum((m.weight * m.weight.grad).abs().sum() for m in _layers(net) if m.weight.grad is not None))


def _gradient_scores(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """snip, grad_norm and fisher from one cross-entropy backward pass (train mode)."""
    net = copy.deepcopy(net).train()
    fisher_total = torch.zeros((), dtype=torch.float64)

    def track(module: nn.Module, _inputs, out: torch.Tensor) -> None:
        act = out.detach().clone()  # clone: a later in-place op must not change the saved activation
        fan_in = math.prod(module.weight.shape[1:])

        def on_grad(grad: torch.Tensor) -> None:
            nonlocal fisher_total
            g = act * grad
            g_nk = g.sum(dim=tuple(range(2, g.ndim))) if g.ndim > 2 else g
            fisher_total = fisher_total + (0.5 * g_nk.pow(2).mean(0)).sum().double().cpu() * fan_in

        out.register_hook(on_grad)

    handles = [m.register_forward_hook(track) for m in _layers(net)]
    try:
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        layers = [m for m in _layers(net) if m.weight.grad is not None]
        return {"snip": float(sum((m.weight * m.weight.grad).abs().sum() for m in layers)),
                "grad_norm": float(sum(m.weight.grad.norm() for m in layers)),
                "fisher": float(fisher_total)}


def snip(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return _gradient_scores(net, x, y)["snip"]


def grad_norm(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return _gradient_scores(net, x, y)["grad_norm"]


def fisher(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return _gradient_scores(net, x, y)["fisher"]


def jacob_cov(net: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    net = copy.deepcopy(net).train()
    x = x.detach().clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    jac = x.grad.reshape(len(x), -1).double().cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jac)
    if not np.isfinite(corr).all():
        return float("nan")
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def naswot(net: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    net = copy.deepcopy(net).train()
    kernel = torch.zeros((len(x), len(x)), dtype=torch.float64)
    relus = [m for m in net.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    if not relus:
        raise ValueError("naswot counts ReLU activation patterns but the network has no ReLU/ReLU6 module")

    def count(_module, inputs) -> None:  # pre-hook: sees the input before an in-place ReLU overwrites it
        c = (inputs[0].detach().flatten(1) > 0).float()
        kernel.add_((c @ c.t() + (1 - c) @ (1 - c).t()).double().cpu())

    handles = [m.register_forward_pre_hook(count) for m in relus]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = np.linalg.slogdet(kernel.numpy())
    return float(logdet) if sign != 0 else float("-inf")


def _gaussian_init(net: nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, _LAYERS):
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator, dtype=m.weight.dtype))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def _pre_pool_features(net: nn.Module) -> nn.Module:
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise ValueError("zen needs the features before global average pooling: the network has no "
                         "AdaptiveAvgPool2d")
    return pools[-1]


def zen(net: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, seed: int = 0, repeat: int = 1,
        mixup_gamma: float = 1e-2) -> float:
    """Zen-score; data-free like the original (Gaussian inputs of ``x``'s shape, seeded)."""
    net = copy.deepcopy(net).train()
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    pool = _pre_pool_features(net)
    features: list[torch.Tensor] = []
    handle = pool.register_forward_pre_hook(lambda _m, inputs: features.append(inputs[0]))
    generator = torch.Generator().manual_seed(seed)
    scores = []
    try:
        with torch.no_grad():
            for _ in range(repeat):
                _gaussian_init(net, generator)
                for bn in bns:  # momentum 1: running_var becomes the batch variance of the last pass
                    bn.reset_running_stats()
                    bn.momentum = 1.0
                a = torch.randn(x.shape, generator=generator).to(x.device)
                b = torch.randn(x.shape, generator=generator).to(x.device)
                features.clear()
                net(a + mixup_gamma * b)
                net(a)  # last: the BN variances below are those of the unperturbed input
                delta = (features[1] - features[0]).abs().sum(dim=tuple(range(1, features[0].ndim))).mean()
                log_bn = sum(0.5 * torch.log(bn.running_var.mean()) for bn in bns)
                scores.append(float(torch.log(delta) + log_bn))
    finally:
        handle.remove()
    return float(np.mean(scores))


PROXY_FUNCTIONS: dict[str, Callable[..., float]] = {
    "synflow": synflow, "snip": snip, "grad_norm": grad_norm, "fisher": fisher,
    "jacob_cov": jacob_cov, "naswot": naswot, "zen": zen,
}
_GRADIENT = ("snip", "grad_norm", "fisher")


def compute_proxies(net: nn.Module, x: torch.Tensor, y: torch.Tensor, proxies: Sequence[str], *, seed: int = 0,
                    repeat: int = 1) -> dict[str, float]:
    """Several proxies of one network; snip, grad_norm and fisher share one backward pass."""
    out: dict[str, float] = {}
    if any(p in _GRADIENT for p in proxies):
        out.update({k: v for k, v in _gradient_scores(net, x, y).items() if k in proxies})
    for proxy in proxies:
        if proxy in _GRADIENT:
            continue
        kwargs = {"seed": seed, "repeat": repeat} if proxy == "zen" else {}
        out[proxy] = PROXY_FUNCTIONS[proxy](net, x, y, **kwargs)
    return {p: out[p] for p in proxies}


# ------------------------------------------------------------------ evaluator
@dataclass(frozen=True)
class ZeroCostSettings:
    """Everything a zero-cost score depends on besides the arch and the data (part of the cache key)."""

    proxy: str = "naswot"
    batch_size: int = 64  # images in the minibatch (NASLib: one batch of 64)
    seed: int = 0  # network init and minibatch draw
    split: str = "train"
    repeat: int = 1  # zen: Gaussian draws averaged

    def check(self) -> None:
        if self.proxy not in PROXY_FUNCTIONS:
            raise ValueError(f"evaluator.proxy={self.proxy!r}: use one of {list(ZERO_COST_PROXIES)}")
        if self.batch_size < 2:
            raise ValueError(f"zero-cost batch_size={self.batch_size}: the proxies need at least 2 images")
        if self.repeat < 1:
            raise ValueError(f"zero-cost repeat={self.repeat} must be >= 1")


def build_initialised(space: SearchSpace, arch: Sequence[int], seed: int) -> nn.Module:
    """The arch's stand-alone network at the seeded standard init (residual BN scale 1, see module doc)."""
    from ..nn.blocks import MBConv
    from ..supernet import SubNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SubNet.build(space, arch)
    for m in net.modules():
        if isinstance(m, MBConv) and m.residual:
            nn.init.ones_(m.project[1].weight)
    return net


class ZeroCostEvaluator:
    """Evaluator protocol: ``accuracy`` (and ``score``) is the proxy's score, not a percentage.

    Scores go through the same SQLite cache as supernet accuracies, under the
    checkpoint id ``zero_cost:<space fingerprint>`` and a settings key covering the
    settings and a digest of the minibatch (images, labels, normalisation).
    """

    def __init__(self, space: SearchSpace, data: ImageData, settings: ZeroCostSettings = ZeroCostSettings(), *,
                 cache: "EvalCache | str | Path | None" = None, device: "str | torch.device" = "cpu",
                 progress: bool = True):
        settings.check()
        if data.num_classes != space.num_classes:
            raise ValueError(f"data {data.name!r} has {data.num_classes} classes, space {space.name!r} "
                             f"has {space.num_classes}: set space.num_classes={data.num_classes}")
        self.space, self.settings, self.progress = space, settings, progress
        self.device = runtime.resolve_device(device) if isinstance(device, str) else device
        split = getattr(data, settings.split)
        if len(split) < settings.batch_size:
            raise ValueError(f"zero-cost batch_size={settings.batch_size} exceeds the {len(split)} images of "
                             f"split {settings.split!r}")
        subset = data.fixed_train_subset(settings.batch_size, settings.seed) if settings.split == "train" \
            else split.subset(torch.arange(settings.batch_size))
        self.x = data.normalise(subset.x.cpu()).to(self.device)
        self.y = subset.y.cpu().to(self.device)
        self.data_name = data.name
        self.batch_digest = hashlib.sha256(subset.x.cpu().numpy().tobytes() + subset.y.cpu().numpy().tobytes()
                                           + json.dumps([list(data.mean), list(data.std)]).encode()).hexdigest()[:16]
        self.settings_key = self.key_for(settings.proxy)
        self.checkpoint_id = f"zero_cost:{space.fingerprint()}"
        self.cache = EvalCache(cache) if isinstance(cache, (str, Path)) else cache
        self.costs = CostModel(space)
        self.stats = {"requested": 0, "cache_hits": 0, "computed": 0, "seconds": 0.0, "undefined": 0}

    def scores(self, arch: Sequence[int], proxies: Sequence[str] | None = None) -> dict[str, float]:
        """Scores of one arch by ``proxies`` (default: this evaluator's), no cache; undefined -> UNDEFINED_SCORE."""
        proxies = list(proxies or [self.settings.proxy])
        net = build_initialised(self.space, arch, self.settings.seed).to(self.device)
        values = compute_proxies(net, self.x, self.y, proxies, seed=self.settings.seed, repeat=self.settings.repeat)
        for proxy, value in values.items():
            if not math.isfinite(value):
                self.stats["undefined"] += 1
                log.warning("%s is undefined for %s (%s): ranked last", proxy, "".join(map(str, arch)), value)
                values[proxy] = UNDEFINED_SCORE
        return values

    def key_for(self, proxy: str) -> str:
        """The cache settings key of ``proxy`` with this evaluator's other settings and minibatch."""
        blob = json.dumps({**asdict(self.settings), "proxy": proxy, "data": self.data_name, "batch": self.batch_digest},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def evaluate_many(self, archs: Sequence[Sequence[int]], proxies: Sequence[str]) -> dict[str, pd.DataFrame]:
        """One frame per proxy (as :meth:`evaluate`); an arch missing from any proxy's cache is scored by all
        missing proxies in one go (shared passes)."""
        canon = canonical_archs(self.space, archs)
        keys = [str(a) for a in canon]
        self.stats["requested"] += len(keys) * len(proxies)
        found = {p: self.cache.get_many(self.checkpoint_id, self.key_for(p), keys) if self.cache else {}
                 for p in proxies}
        todo = [a for a in dict.fromkeys(canon) if any(str(a) not in found[p] for p in proxies)]
        new_rows: dict[str, list] = {p: [] for p in proxies}
        for arch in tqdm(todo, desc="zero-cost", unit="arch", disable=not self.progress or len(todo) < 2,
                         leave=False):
            missing = [p for p in proxies if str(arch) not in found[p]]
            start = time.perf_counter()
            values = self.scores(arch, missing)
            seconds = (time.perf_counter() - start) / len(missing)
            for p in missing:
                row = (str(arch), values[p], float("nan"), seconds)
                new_rows[p].append(row)
                if self.cache:  # per arch: a long run that is stopped keeps what it computed
                    self.cache.put_many(self.checkpoint_id, self.key_for(p), [row])
        frames = {}
        costs = {"flops": self.costs.flops(canon), "params": self.costs.params(canon)}
        for p in proxies:
            results = {k: v[0] for k, v in found[p].items()} | {r[0]: r[1] for r in new_rows[p]}
            computed, seen, cached = {r[0] for r in new_rows[p]}, set(), []
            for k in keys:  # a duplicate within one call is a hit for all but its first occurrence
                cached.append(k not in computed or k in seen)
                seen.add(k)
            self.stats["computed"] += len(new_rows[p])
            self.stats["seconds"] += sum(r[3] for r in new_rows[p])
            self.stats["cache_hits"] += sum(k in found[p] for k in keys)
            scores = np.array([results[k] for k in keys], dtype=np.float64)
            frames[p] = pd.DataFrame({"arch": keys, "accuracy": scores, "score": scores, **costs, "cached": cached})
        return frames

    def evaluate(self, archs: Sequence[Sequence[int]]) -> pd.DataFrame:
        return self.evaluate_many(archs, [self.settings.proxy])[self.settings.proxy]


def zero_cost_scores(space: SearchSpace, data: ImageData, archs: Sequence[Sequence[int]],
                     proxies: Sequence[str] = ZERO_COST_PROXIES, *, batch_size: int = 64, seed: int = 0,
                     cache: "EvalCache | str | Path | None" = None, device: "str | torch.device" = "cpu",
                     progress: bool = True) -> dict[str, np.ndarray]:
    """Every requested proxy's scores of ``archs`` (input order), through one cache, shared passes."""
    unknown = [p for p in proxies if p not in PROXY_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown zero-cost proxies {unknown}: use any of {list(ZERO_COST_PROXIES)}")
    if not proxies:
        return {}
    evaluator = ZeroCostEvaluator(space, data, ZeroCostSettings(proxies[0], batch_size, seed), cache=cache,
                                  device=device, progress=progress)
    return {p: f["score"].to_numpy() for p, f in evaluator.evaluate_many(archs, proxies).items()}
