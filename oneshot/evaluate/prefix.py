"""Prefix sharing: evaluate a batch of archs as a trie, each shared prefix computed once.

Layer ``i``'s BN statistics and activations depend only on the choices of layers
``0..i``. During recalibration every module runs in train mode, where BN normalises
with the statistics of the batch itself, so a module's train-mode output on a recal
batch depends only on that batch's upstream outputs -- never on running statistics.
Hence for a trie over the canonical archs (root = stem, one level per layer, one head
node per distinct arch) a depth-first traversal that, at every node,

1. resets the node's BNs and forwards the parent's train-mode outputs of every recal
   batch through the node's module in train mode (``momentum=None``: the cumulative
   average of :func:`~oneshot.train.bn.recalibrate_bn`), keeping the outputs per batch
   so batch boundaries are those of the one-by-one path, then
2. forwards the parent's eval-mode outputs of the val batches in eval mode (the node's
   running statistics are complete at that point),

computes exactly what :meth:`SupernetEvaluator._measure` computes for each arch alone
(same ops, same shapes, same batch order; the results are bitwise equal on CPU), with
the stem run once per batch of archs and every shared prefix once.

A module belongs to one layer, and DFS visits a node's whole subtree before its next
sibling, so in one pass no save/restore of BN state is needed. Memory: DFS keeps the
outputs of one root-to-leaf path, at most ``bytes_per_image(path) * (recal + val
images)`` (stem + every layer's output; identity ops share their input tensor, and a
module's internal activations are transient, one batch at a time): for nas_bench_macro
on 32x32 images 400 KB per image, 1.14 GiB at the default 1000 + 2000 images. When that bound
exceeds ``memory_budget``, the recal and val batches are split into consecutive chunks
(whole batches, in order) and the trie is traversed once per chunk; each node's BN
buffers are then saved after a chunk and restored before the next, so the running
statistics accumulate over the same batches in the same order -- still exact. The
bound becomes ``bytes_per_image(path) * chunk images`` (at least one batch).

Supported: any model with ``layer_call(layer, choice) -> (run, module)`` defined by the
class that defines its ``forward``: :class:`~oneshot.supernet.SuperNet` (``sharing="separate"``:
every candidate has its own module and BNs) and :class:`~oneshot.supernet.ElasticSuperNet`
(one shared block per layer; a candidate is ``block(x, kernel, expand)`` or a skip;
resetting the layer's block at its node is what the one-by-one path's reset does for that
layer). Any other model -- including subclasses that override ``forward`` -- falls back to
one arch at a time.
A :class:`~oneshot.supernet.few_shot.FewShotSuperNet` is evaluated as one trie per
sub-supernet over the archs routed to it (:func:`~oneshot.supernet.few_shot.route_archs`).

Side effect, as with the one-by-one path: the BN buffers of the model are left as the
last recalibration wrote them (here: per module, the last trie node that used it), not
as they were before.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from tqdm.auto import tqdm

from ..space.arch import Arch
from ..space.space import conv_out_size
from ..supernet.few_shot import route_archs
from ..train.bn import batchnorms
from .supernet_evaluator import SupernetEvaluator

log = logging.getLogger(__name__)

#: default cap on cached activations of one root-to-leaf path (bytes)
DEFAULT_MEMORY_BUDGET = 2 * 1024**3

Tensor = torch.Tensor


def supports_prefix_sharing(model: nn.Module) -> bool:
    """Whether ``model`` exposes its per-layer calls (``layer_call``) so a trie can run it, and
    its ``forward`` is the one those calls were written for (defined by the same class: a
    subclass overriding ``forward`` alone may compute something else)."""
    def owner(name: str) -> type | None:
        return next((c for c in type(model).__mro__ if name in c.__dict__), None)

    return owner("layer_call") is not None and owner("layer_call") is owner("forward")


@dataclass(eq=False)
class _Node:
    run: Callable[[Tensor], Tensor]
    module: nn.Module | None  # whose train/eval mode to set (None: stateless, e.g. a skip)
    bns: list[_BatchNorm]
    children: dict[int, "_Node"] = field(default_factory=dict)
    arch: str | None = None  # head nodes: the arch this leaf finishes
    state: list[tuple[Tensor, Tensor, Tensor]] | None = None  # saved BN buffers between passes


def build_trie(model: nn.Module, archs: Sequence[Arch]) -> tuple[_Node, int]:
    """Root (stem) node of the trie over ``archs`` and its number of nodes (heads included)."""
    root = _Node(model.stem, model.stem, batchnorms(model.stem))
    head_bns = batchnorms(model.head)
    count = 1
    for arch in archs:
        node = root
        for i, c in enumerate(arch):
            child = node.children.get(c)
            if child is None:
                run, module = model.layer_call(i, c)
                child = node.children[c] = _Node(run, module, batchnorms(module) if module is not None else [])
                count += 1
            node = child
        if -1 not in node.children:  # the head, one per distinct arch (key -1: no choice index)
            node.children[-1] = _Node(model.head, model.head, head_bns, arch=str(arch))
            count += 1
    return root, count


def path_bytes_per_image(model: nn.Module, image: Tensor) -> int:
    """Bytes one image's cached outputs take along one root-to-leaf path (upper bound:
    identity ops share their input's tensor)."""
    space = model.space
    size = conv_out_size(image.shape[-1], space.stem_kernel, space.stem_stride)
    numel = space.stem_channels * size * size
    for layer in space.layers:
        size = conv_out_size(size, 3, layer.stride)
        numel += layer.out_channels * size * size
    return numel * image.element_size()


@dataclass
class PrefixRun:
    """What :func:`evaluate_prefix_shared` computed and how."""

    results: dict[str, tuple[float, float]]  # arch string -> (accuracy %, mean loss)
    nodes: int  # trie nodes (stem + layer nodes + one head per arch)
    passes: int  # traversals of the trie (1 unless the memory budget forced chunking)
    module_calls: int  # node x batch forward calls
    path_bytes: int  # bound on cached activations of one path for one pass
    seconds: float


class _Traversal:
    """One DFS per pass; ``first`` / ``last`` say whether the pass is the first / last."""

    def __init__(self, save_state: bool, bar):
        self.save_state, self.bar = save_state, bar
        self.first = self.last = True
        self.calls = 0
        self.metrics: dict[str, list[float]] = {}  # arch -> [correct, loss sum, images]

    def visit(self, node: _Node, recal: list[Tensor], val: list[tuple[Tensor, Tensor]]) -> None:
        """Run ``node`` on this pass's recal inputs (train mode), then on its val inputs
        (eval mode; by then the node's running statistics are complete), then its subtree."""
        recal_out: list[Tensor] = []
        if recal:
            with torch.no_grad():
                if self.first:
                    for bn in node.bns:
                        bn.reset_running_stats()
                else:
                    self._load(node)  # saved at the end of this node's previous pass
                if node.module is not None:
                    node.module.train()
                recal_out = [node.run(x) for x in recal]
                if self.save_state and node.bns:
                    node.state = [(bn.running_mean.clone(), bn.running_var.clone(),
                                   bn.num_batches_tracked.clone()) for bn in node.bns]
            self.calls += len(recal)
        val_out: list[tuple[Tensor, Tensor]] = []
        if val:
            with torch.inference_mode():
                if not recal:
                    self._load(node)
                if node.module is not None:
                    node.module.eval()
                if node.arch is None:
                    val_out = [(node.run(x), y) for x, y in val]
                else:
                    m = self.metrics.setdefault(node.arch, [0, 0.0, 0])
                    for x, y in val:  # same accumulation order as the one-by-one path
                        logits = node.run(x).float()
                        m[1] += F.cross_entropy(logits, y, reduction="sum").item()
                        m[0] += (logits.argmax(1) == y).sum().item()
                        m[2] += len(y)
            self.calls += len(val)
        if node.arch is not None and self.last and self.bar is not None:
            self.bar.update(1)
        for child in node.children.values():
            self.visit(child, recal_out, val_out)

    @staticmethod
    def _load(node: _Node) -> None:
        if node.state is None:  # no BN, or stats never recalibrated here (recalibrate=False)
            return
        for bn, (mean, var, count) in zip(node.bns, node.state):
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.num_batches_tracked.copy_(count)


def _chunks(recal: list[Tensor], val: list[tuple[Tensor, Tensor]], per_image: int,
            budget: int) -> list[tuple[list[Tensor], list[tuple[Tensor, Tensor]]]]:
    """Consecutive (recal batches, val batches) passes, each within ``budget`` bytes of
    cached path outputs (at least one batch per pass)."""
    items = [("r", x, len(x)) for x in recal] + [("v", b, len(b[0])) for b in val]
    passes: list[list] = [[]]
    used = 0
    for kind, item, n in items:
        if passes[-1] and used + n * per_image > budget:
            passes.append([])
            used = 0
        passes[-1].append((kind, item))
        used += n * per_image
    return [([i for k, i in p if k == "r"], [i for k, i in p if k == "v"]) for p in passes]


@torch.inference_mode(False)
def evaluate_prefix_shared(model: nn.Module, archs: Sequence[Sequence[int]], recal: Sequence[Tensor],
                           val: Sequence[tuple[Tensor, Tensor]], *, recalibrate: bool = True,
                           memory_budget: int = DEFAULT_MEMORY_BUDGET, progress: bool = False) -> PrefixRun:
    """Accuracy (percent) and mean cross-entropy of every arch, sharing prefixes.

    ``archs``: canonical archs (duplicates are evaluated once); ``recal``: normalised
    recalibration batches; ``val``: normalised ``(images, labels)`` batches. Equal to
    recalibrating each arch's whole path on ``recal`` and evaluating it on ``val``
    (:meth:`SupernetEvaluator._measure`). ``recalibrate=False`` keeps the stored BN
    statistics (only eval-mode outputs are shared). Leaves the model in eval mode.
    """
    if not supports_prefix_sharing(model):
        raise TypeError(f"{type(model).__name__} does not expose per-layer calls; use SupernetEvaluator "
                        "(one arch at a time) for it")
    start = time.perf_counter()
    unique = list(dict.fromkeys(model.space.validate(a) for a in archs))
    if not unique:
        return PrefixRun({}, 0, 0, 0, 0, 0.0)
    recal, val = list(recal) if recalibrate else [], list(val)
    if recalibrate and not recal:
        raise ValueError("BN recalibration got no images: set evaluator.recal_images >= 1 or disable recalibration")
    if not val:
        raise ValueError("no validation images to evaluate on")
    root, nodes = build_trie(model, unique)
    per_image = path_bytes_per_image(model, val[0][0])
    plan = _chunks(recal, val, per_image, memory_budget)
    if len(plan) > 1:
        log.info("prefix sharing: path outputs need %.0f MiB > budget %.0f MiB; %d passes",
                 per_image * (sum(len(x) for x in recal) + sum(len(y) for _, y in val)) / 2**20,
                 memory_budget / 2**20, len(plan))
    bns = batchnorms(model)
    saved = [bn.momentum for bn in bns]
    bar = tqdm(total=len(unique), desc="evaluate (prefix-shared)", unit="arch",
               disable=not progress or len(unique) < 2, leave=False)
    walk = _Traversal(save_state=len(plan) > 1, bar=bar)
    try:
        for bn in bns:
            bn.momentum = None
        for p, (r, v) in enumerate(plan):
            walk.first, walk.last = p == 0, p == len(plan) - 1
            walk.visit(root, r, v)
    finally:
        for bn, m in zip(bns, saved):
            bn.momentum = m
        model.eval()
        bar.close()
    results = {a: (100.0 * c / n, loss / n) for a, (c, loss, n) in walk.metrics.items()}
    return PrefixRun(results, nodes, len(plan), walk.calls, per_image * max(
        sum(len(x) for x in r) + sum(len(b[1]) for b in v) for r, v in plan), time.perf_counter() - start)


class PrefixSharingEvaluator(SupernetEvaluator):
    """:class:`SupernetEvaluator` that computes the uncached archs of each ``evaluate``
    call as one prefix-shared batch (:func:`evaluate_prefix_shared`).

    Overrides the base class's ``_compute`` hook only: same settings, same cache keys,
    its numbers are those of the one-by-one path. The ``seconds`` stored per arch is the
    batch's wall time divided by its archs. Models without per-layer calls
    (:func:`supports_prefix_sharing`) are evaluated one by one. Under torchrun each rank
    gets a contiguous block of the sorted archs (the base class's split) and shares
    prefixes within it. The memory format comes from ``EvalSettings.channels_last``
    (part of the cache key).

    Args (beyond :class:`SupernetEvaluator`'s):
        memory_budget: bytes of cached path outputs allowed before the recal/val batches
            are chunked into several passes (nas_bench_macro at the default settings
            needs 1.14 GiB: one pass).
    """

    def __init__(self, *args, memory_budget: int = DEFAULT_MEMORY_BUDGET, **kwargs):
        super().__init__(*args, **kwargs)
        self.memory_budget = memory_budget
        self.last_run: PrefixRun | None = None

    def _compute(self, archs: list[Arch]) -> list[tuple[str, float, float, float]]:
        """``(arch, accuracy, loss, seconds)`` of the distinct, canonical, uncached ``archs``."""
        if not archs:
            return []
        # a few-shot supernet: one trie per sub-supernet (their weights differ, so no prefix is shared across)
        groups = route_archs(self.model, archs)
        if not all(supports_prefix_sharing(model) for model, _ in groups):
            return super()._compute(archs)
        runs = [evaluate_prefix_shared(model, group, self._recal, self._val, recalibrate=self.settings.recalibrate,
                                       memory_budget=self.memory_budget, progress=self.progress)
                for model, group in groups]
        run = runs[0] if len(runs) == 1 else PrefixRun(
            {k: v for r in runs for k, v in r.results.items()}, sum(r.nodes for r in runs),
            max(r.passes for r in runs), sum(r.module_calls for r in runs), max(r.path_bytes for r in runs),
            sum(r.seconds for r in runs))
        self.last_run = run
        sec = run.seconds / len(run.results)
        return [(k, *run.results[k], sec) for k in dict.fromkeys(str(a) for a in archs)]
