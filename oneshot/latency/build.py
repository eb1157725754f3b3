"""Building a latency table: measure every distinct key of one or more spaces, resumably."""
from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from ..space.space import SearchSpace
from .keys import parse_key, space_keys
from .profile import DeviceProfile
from .table import LatencyLUT, Row
from .timing import OpTimer, TorchOpTimer, device_name, summarize

log = logging.getLogger(__name__)


def new_table_metadata(profile: DeviceProfile) -> dict[str, str]:
    """Metadata of a table about to be measured on this machine for ``profile``."""
    now = _dt.datetime.now().isoformat(timespec="seconds")
    return {**profile.table_metadata(), "device": device_name(profile.kind), "torch": torch.__version__,
            "dtype": "float32", "warmup": str(profile.warmup), "repeats": str(profile.repeats),
            "date": now, "updated": now, "source": "measured"}


def build_lut(spaces: "SearchSpace | Sequence[SearchSpace]", profile: DeviceProfile,
              path: "str | Path | None" = None, *, root: "str | Path | None" = None,
              timer: OpTimer | None = None, progress: bool = True, force: bool = False,
              overwrite: bool = False, save_every: int = 1) -> LatencyLUT:
    """Measure every key of ``spaces`` missing from the table at ``path`` and save it.

    * ``path`` defaults to ``profile.lut_path(root)`` (``luts/<profile>.csv``).
    * An existing table is resumed: only keys it lacks are measured, its other rows
      (other spaces) are kept. Its metadata must match ``profile`` (``force=True``
      overrides); ``overwrite=True`` starts a fresh table instead.
    * The table is written atomically after every ``save_every`` measured keys, so an
      interrupted build loses at most that many measurements.
    * ``timer(descriptor, profile) -> per-repetition ms`` does the measuring
      (:class:`TorchOpTimer` by default; inject a fake one in tests). It runs inside
      ``profile.activate()`` (thread count set, restored afterwards).
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
    if todo and profile.kind == "external":
        raise RuntimeError(f"device profile {profile.name!r} is external: its table cannot be measured here "
                           f"({len(todo)} key(s) missing, e.g. {todo[0]})")
    if not todo:
        if not target.is_file():
            lut.save(target)
        return lut
    if lut.correction is not None:
        log.info("table %s has a fitted correction; it stays, re-run validation if the new keys change it",
                 target)
    timer = timer or TorchOpTimer()
    every = max(1, int(save_every))
    with profile.activate():
        bar = tqdm(todo, desc=f"lut {profile.name}", unit="op", disable=not progress)
        for i, key in enumerate(bar, 1):
            bar.set_postfix_str(key, refresh=False)
            samples = timer(parse_key(key), profile)
            lut.set(key, Row(*summarize(samples)))
            if i % every == 0 or i == len(todo):
                lut.metadata["updated"] = _dt.datetime.now().isoformat(timespec="seconds")
                lut.save(target)
    log.info("latency table %s: measured %d key(s), %d in total", target, len(todo), len(lut))
    return lut


def _warn_if_mixed(lut: LatencyLUT, profile: DeviceProfile) -> None:
    """Resuming a table measured elsewhere mixes measurements: say so."""
    for field, now in (("torch", torch.__version__), ("device", device_name(profile.kind))):
        was = lut.metadata.get(field, "")
        if was and was != now:
            log.warning("resuming latency table %s measured with %s %r, now %r: rows will mix both",
                        lut.path, field, was, now)
