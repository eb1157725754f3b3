"""Import published latency tables (NSGANetV2, Once-for-All) into the project's format.

Both come from MobileNetV3-style networks, which differ from oneshot's blocks:

* blocks with squeeze-and-excitation (``se:1``) map to ``mbconv_se`` (Once-for-All's SE:
  reduction 4, ``make_divisible(.., 8)``, h-sigmoid gate), the others to ``mbconv``;
* their head parts (final expand 1x1 conv + BN + h-swish, pool, feature-mix 1x1 conv +
  h-swish, classifier) are summed into one oneshot ``head`` key with a feature mix
  (``head-in7x7x192-c1152-m1536-out1000-hswish``; a space sets ``head_mix_channels``), one
  per chain of parts whose shapes connect; the std of the sum assumes independent parts.
  NSGANetV2 has no pooling entry: its heads leave the pool (~2 % of OFA's head) uncounted;
* ``hs:1`` (OFA) is ``hswish``, ``hs:0`` is ``relu``. NSGANetV2 keys carry no
  activation: MobileNetV3's convention is assumed (``relu`` up to the 40-channel
  stage -- out channels 16, 24, 32, 40, 48 at width 1.0 / 1.2 -- ``hswish`` after, and
  ``hswish`` for the first conv), or pass ``activation=`` to force one;
* published values are means, stored in ``median_ms``; ``p25`` / ``p75`` are the
  normal approximation mean -/+ 0.674 std; ``n`` is OFA's count (0 when unknown).

So a space predicted from an imported table must use shapes, ops and activations the
table has (e.g. ``conf/space/ofa_like_se.yaml`` for Once-for-All's); other spaces fail with a
``MissingKeysError`` naming the keys. ``LatencyLUT.predict(..., include_fixed=False)``
predicts the searchable layers alone when only the stem / head are missing.
Unmapped keys are returned with a reason and logged, never silently dropped.
"""
from __future__ import annotations

import datetime as _dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..space.ops import OpSpec
from ..space.space import LayerSpec
from .keys import OpDescriptor, op_descriptor
from .table import LatencyLUT, Row
from ..errors import UserInputError

log = logging.getLogger(__name__)

Z75 = 0.6744897501960817  # standard normal 75th percentile
MBV3_RELU_CHANNELS = frozenset({16, 24, 32, 40, 48})

_ARGS = re.compile(r"^(input|output|expand|kernel|stride|idskip|se|hs):(.+)$")
_HWC = re.compile(r"^(\d+)x(\d+)x(\d+)$")


@dataclass
class ImportResult:
    lut: LatencyLUT
    unmapped: list[tuple[str, str]] = field(default_factory=list)  # (published key, reason)
    mapped: dict[str, str] = field(default_factory=dict)  # published key -> oneshot key

    def summary(self) -> str:
        return (f"imported {len(self.mapped)} of {len(self.mapped) + len(self.unmapped)} keys "
                f"({len(self.lut)} distinct oneshot keys); {len(self.unmapped)} unmapped")


def detect_format(entries: Mapping[str, Any]) -> str:
    prefixes = {k.split("-", 1)[0] for k in entries}
    if "MBConv" in prefixes:
        return "nsganetv2"
    if "expanded_conv" in prefixes:
        return "ofa"
    raise ValueError(f"unknown latency table format: key kinds {sorted(prefixes)} "
                     "(expected NSGANetV2 'MBConv-...' or Once-for-All 'expanded_conv-...' keys)")


def import_published_lut(path: "str | Path", *, fmt: str = "auto", profile: str | None = None,
                         target_device: str = "", activation: str | None = None, batch: int = 1,
                         out: "str | Path | None" = None) -> ImportResult:
    """Read a published table (``fmt``: ``auto``, ``nsganetv2`` or ``ofa``) and convert it.

    The table gets metadata ``profile`` (default: derived from the file name),
    ``kind: external``, ``batch``, ``source``; with ``out`` it is saved there.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"published latency table {path} not found: pass extra.source=<table .yaml>")
    try:
        with open(path, encoding="utf-8") as f:
            entries = yaml.safe_load(f) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:  # safe_load refuses python/* tags: ConstructorError
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise UserInputError(f"{path} is not a plain YAML latency table ({problem}{at}): it must be a mapping "
                             "of op key -> latency stats; python/* tags are never constructed") from None
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: expected a mapping of key -> stats, got {type(entries).__name__}")
    fmt = detect_format(entries) if fmt == "auto" else fmt
    if fmt not in ("nsganetv2", "ofa"):
        raise ValueError(f"unknown published table format {fmt!r}: use auto, nsganetv2 or ofa")
    name = profile or f"{fmt}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', path.stem)}"
    metadata = {"profile": name, "kind": "external", "batch": str(batch), "threads": "",
                "device": target_device or path.stem, "torch": "", "dtype": "float32",
                "date": _dt.datetime.now().isoformat(timespec="seconds"),
                "statistic": "median", "source": f"{fmt}:{path.name}",
                "stats": "published mean in median_ms, p25/p75 = mean -/+ 0.674 std"}
    lut = LatencyLUT(metadata=metadata)
    result = ImportResult(lut)
    for key, stats in entries.items():
        try:
            desc = (_map_nsganetv2(key, activation) if fmt == "nsganetv2" else _map_ofa(key))
            row = _row(stats, fmt)
        except _Unmapped as e:
            result.unmapped.append((key, str(e)))
            continue
        if desc.key in lut.rows:
            log.info("published keys %r and %r map to the same op %s; keeping the first",
                     next(k for k, v in result.mapped.items() if v == desc.key), key, desc.key)
            result.unmapped.append((key, f"duplicate of an earlier key mapping to {desc.key}"))
            continue
        lut.set(desc.key, row)
        result.mapped[key] = desc.key
    _compose_heads(entries, fmt, activation, result)
    if result.unmapped:
        reasons: dict[str, int] = {}
        for _, why in result.unmapped:
            reasons[why.split(":")[0]] = reasons.get(why.split(":")[0], 0) + 1
        log.warning("%s: %d of %d keys could not be mapped to oneshot ops (%s)", path, len(result.unmapped),
                    len(entries), "; ".join(f"{n} x {why}" for why, n in reasons.items()))
    if out is not None:
        lut.save(out)
    return result


class _Unmapped(Exception):
    pass


_HEAD_PARTS = {"ofa": ("Conv_1", "AvgPool2D", "Conv_2", "Logits"),
               "nsganetv2": ("final_expand_layer", None, "feature_mix_layer", "classifier")}


def _channels(text: str) -> int:
    return int(text.rsplit("x", 1)[-1])


def _compose_heads(entries: Mapping[str, Any], fmt: str, activation: str | None, result: ImportResult) -> None:
    """Sum each chain final expand -> [pool] -> feature mix -> classifier into one head key;
    its part keys move from ``unmapped`` to ``mapped`` (all pointing at the head key)."""
    expand_kind, pool_kind, mix_kind, fc_kind = _HEAD_PARTS[fmt]
    parts: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for key in entries:
        kind = key.split("-", 1)[0]
        if kind in _HEAD_PARTS[fmt]:
            try:
                parts.setdefault(kind, []).append((key, _parse(key)[1]))
            except _Unmapped:
                continue
    used: dict[str, str] = {}
    for ekey, e in parts.get(expand_kind, []):
        inp, mid = _hwc(e.get("input"), ekey), _hwc(e.get("output"), ekey)
        pools = [k for k, p in parts.get(pool_kind, []) if p.get("input") == e.get("output")] if pool_kind else [None]
        for mkey, m in parts.get(mix_kind, []):
            if _channels(m.get("input", "")) != mid[2]:
                continue
            mix = _channels(m.get("output", ""))
            for fkey, f in parts.get(fc_kind, []):
                if _channels(f.get("input", "")) != mix or not pools:
                    continue
                chain = [ekey, *(k for k in pools[:1] if k), mkey, fkey]
                desc = OpDescriptor("head", inp, (1, 1, int(f["output"])), activation=activation or "hswish",
                                    head_channels=mid[2], mix_channels=mix)
                try:
                    row = _sum_rows([_row(entries[k], fmt) for k in chain])
                except _Unmapped:
                    continue
                if desc.key not in result.lut.rows:
                    result.lut.set(desc.key, row)
                used.update({k: desc.key for k in chain})
    result.mapped.update(used)
    result.unmapped[:] = [(k, why) for k, why in result.unmapped if k not in used]


def _sum_rows(rows: list[Row]) -> Row:
    mean = sum(r.median_ms for r in rows)
    std = sum(((r.p75 - r.median_ms) / Z75) ** 2 for r in rows) ** 0.5
    counts = [r.n for r in rows]
    return Row(mean, max(0.0, mean - Z75 * std), mean + Z75 * std, min(counts) if all(counts) else 0)


def _parse(key: str) -> tuple[str, dict[str, str]]:
    kind, *tokens = key.split("-")
    args = {}
    for tok in tokens:
        m = _ARGS.match(tok)
        if not m:
            raise _Unmapped(f"unreadable token {tok!r}")
        args[m.group(1)] = m.group(2)
    return kind, args


def _hwc(text: str | None, key: str) -> tuple[int, int, int]:
    m = _HWC.match(text or "")
    if not m:
        raise _Unmapped(f"shape not HxWxC: {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _mbconv(key: str, args: dict[str, str], ratio: int, activation: str) -> OpDescriptor:
    inp, out = _hwc(args.get("input"), key), _hwc(args.get("output"), key)
    stride, kernel = int(args["stride"]), int(args["kernel"])
    residual = stride == 1 and inp == out
    if int(args.get("idskip", "0")) != int(residual):
        raise _Unmapped(f"residual mismatch: idskip:{args.get('idskip')} where oneshot MBConv "
                        f"{'adds' if residual else 'has no'} a residual")
    if (inp[0] + stride - 1) // stride != out[0]:
        raise _Unmapped(f"spatial size {inp[0]} -> {out[0]} does not fit stride {stride}")
    if inp[0] != inp[1]:
        raise _Unmapped(f"non-square input {inp}")
    se = "_se" if args.get("se", "0") != "0" else ""
    op = OpSpec.parse(f"mbconv{se}_k{kernel}_e{ratio}")
    return op_descriptor(LayerSpec(0, 0, 0, inp[2], out[2], stride, inp[0], (op,)), op, activation)


def _map_nsganetv2(key: str, activation: str | None) -> OpDescriptor:
    kind, args = _parse(key)
    if kind == "MBConv":
        out = _hwc(args.get("output"), key)
        act = activation or ("relu" if out[2] in MBV3_RELU_CHANNELS else "hswish")
        return _mbconv(key, args, int(args["expand"]), act)
    if kind == "first_conv":
        return _stem(key, args, activation or "hswish")
    if kind in ("final_expand_layer", "feature_mix_layer", "classifier"):
        raise _Unmapped(f"MobileNetV3 head part {kind}: imported only within a whole head chain "
                        "(final expand, pool, feature mix, classifier) whose shapes connect")
    raise _Unmapped(f"unknown op kind {kind!r}")


def _map_ofa(key: str) -> OpDescriptor:
    kind, args = _parse(key)
    if kind == "expanded_conv":
        inp = _hwc(args.get("input"), key)
        hidden = int(args["expand"])
        if hidden % inp[2]:
            raise _Unmapped(f"expand {hidden} channels is not an integer ratio of {inp[2]} input channels")
        act = "hswish" if args.get("hs", "0") == "1" else "relu"
        return _mbconv(key, args, hidden // inp[2], act)
    if kind == "Conv":
        return _stem(key, args, "hswish")
    if kind in ("Conv_1", "Conv_2", "Logits", "AvgPool2D"):
        raise _Unmapped(f"MobileNetV3 head part {kind}: imported only within a whole head chain "
                        "(final expand, pool, feature mix, classifier) whose shapes connect")
    raise _Unmapped(f"unknown op kind {kind!r}")


def _stem(key: str, args: dict[str, str], activation: str) -> OpDescriptor:
    inp, out = _hwc(args.get("input"), key), _hwc(args.get("output"), key)
    stride = 1 if inp[0] == out[0] else 2
    if (inp[0] + stride - 1) // stride != out[0]:
        raise _Unmapped(f"stem size {inp[0]} -> {out[0]} is not a stride-1/2 3x3 conv")
    return OpDescriptor("stem", inp, out, 3, 0, stride, activation)  # MobileNetV3 first conv: 3x3


def _row(stats: Any, fmt: str) -> Row:
    if not isinstance(stats, Mapping) or "mean" not in stats:
        raise _Unmapped(f"no mean in entry {stats!r}")
    mean = float(stats["mean"])
    if fmt == "nsganetv2":
        std = float(stats.get("var") or 0.0) ** 0.5
        n = 0
    else:
        std, n = float(stats.get("std") or 0.0), int(stats.get("count") or 0)
    return Row(mean, max(0.0, mean - Z75 * std), mean + Z75 * std, n)
