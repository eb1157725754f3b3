"""Building a latency table: measure every distinct key of one or more spaces, resumably."""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..space.space import SearchSpace
from .keys import parse_key, space_keys
from .profile import DeviceProfile
from .table import LatencyLUT, Row
from .timing import OpTimer, device_name, load_average, summarize, warn_if_busy
from .worker import open_measurer
from ..errors import UnsatisfiableError

log = logging.getLogger(__name__)


def new_table_metadata(profile: DeviceProfile) -> dict[str, str]:
    """Metadata of a table about to be measured on this machine for ``profile``."""
    now = _dt.datetime.now().isoformat(timespec="seconds")
    return {**profile.table_metadata(), "device": device_name(profile.kind), "cpu_count": str(os.cpu_count()),
            "torch": torch.__version__, "dtype": "float32", "warmup": str(profile.warmup),
            "repeats": str(profile.repeats), "rounds": str(profile.rounds), "date": now, "updated": now,
            "load_avg": load_average(), "source": "measured"}


def build_lut(spaces: "SearchSpace | Sequence[SearchSpace]", profile: DeviceProfile,
              path: "str | Path | None" = None, *, root: "str | Path | None" = None,
              timer: OpTimer | None = None, progress: bool = True, force: bool = False,
              overwrite: bool = False, chunk: int = 32, isolate: bool | None = None,
              seed: int = 0) -> LatencyLUT:
    """Measure every key of ``spaces`` missing from the table at ``path`` and save it.

    * ``path`` defaults to ``profile.lut_path(root)`` (``luts/<profile>.csv``).
    * An existing table is resumed: only keys it lacks are measured, its other rows
      (other spaces) are kept. Its metadata must match ``profile`` (``force=True``
      overrides); ``overwrite=True`` starts a fresh table instead.
    * Keys are measured ``chunk`` at a time: ``profile.rounds`` interleaved passes over
      the chunk (shuffled after the first), ``ceil(repeats / rounds)`` timed calls per
      key and pass; then the chunk's rows are written atomically, so an interrupted
      build loses at most one chunk.
    * ``timer(descriptor, profile) -> per-call ms`` does the measuring; by default a
      torch measurer, in a worker process when the profile's OpenMP env needs one
      (``isolate`` forces either way). An injected timer (tests) runs in this process.
    """
    space_list = [spaces] if isinstance(spaces, SearchSpace) else list(spaces)
    if not space_list:
        raise ValueError("build_lut: no space given")
    target = Path(path) if path is not None else profile.lut_path(root)
    if target.is_file() and not overwrite:
        lut = LatencyLUT.load(target, profile=profile, force=force)
        _warn_if_mixed(lut, profile)
    else:
        lut = LatencyLUT(metadata=new_table_metadata(profile), path=target)
    wanted = [k for s in space_list for k in space_keys(s)]
    todo = lut.missing(wanted)
    names = ",".join(s.name for s in space_list)
    log.info("latency table %s: %d key(s) for space(s) %s, %d to measure", target, len(dict.fromkeys(wanted)),
             names, len(todo))
    if todo and not profile.backend.measurable:
        raise UnsatisfiableError(f"device profile {profile.name!r} is external: its table cannot be measured here "
                                 f"({len(todo)} key(s) missing, e.g. {todo[0]})")
    if not todo:
        if not target.is_file():
            lut.save(target)
        return lut
    if lut.correction is not None:
        log.info("table %s has a fitted correction; it stays, re-run validation if the new keys change it",
                 target)
    warn_if_busy(profile, f"measuring latency table {target}")
    rounds, rng = profile.rounds, np.random.default_rng(seed)
    first = replace(profile, repeats=math.ceil(profile.repeats / rounds))
    later = replace(first, warmup=min(2, profile.warmup))
    with contextlib.ExitStack() as stack:
        if timer is None:
            measurer = stack.enter_context(open_measurer(profile, isolate))
            timer = lambda d, p: measurer.time_op(d.key, p.warmup, p.repeats)  # noqa: E731
        else:
            stack.enter_context(profile.activate())
        bar = stack.enter_context(tqdm(total=len(todo) * rounds, desc=f"lut {profile.name}", unit="op",
                                       disable=not progress))
        size = max(1, int(chunk))
        for start in range(0, len(todo), size):
            keys = todo[start:start + size]
            samples: dict[str, list[float]] = {k: [] for k in keys}
            for r in range(rounds):
                for k in (keys if r == 0 else rng.permutation(keys).tolist()):
                    bar.set_postfix_str(k, refresh=False)
                    samples[k].extend(np.asarray(timer(parse_key(k), first if r == 0 else later), float).tolist())
                    bar.update()
            for k in keys:
                lut.set(k, Row(*summarize(samples[k])))
            lut.metadata["updated"] = _dt.datetime.now().isoformat(timespec="seconds")
            lut.save(target)
    log.info("latency table %s: measured %d key(s), %d in total (load average now %s)", target, len(todo),
             len(lut), load_average())
    return lut


def _warn_if_mixed(lut: LatencyLUT, profile: DeviceProfile) -> None:
    """Resuming a table measured elsewhere mixes measurements: say so."""
    for field, now in (("torch", torch.__version__), ("device", device_name(profile.kind))):
        was = lut.metadata.get(field, "")
        if was and was != now:
            log.warning("resuming latency table %s measured with %s %r, now %r: rows will mix both",
                        lut.path, field, was, now)
