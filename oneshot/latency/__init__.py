"""Latency lookup tables: op keys, measurement, prediction, validation, import.

Entry points (the ``oneshot-lut`` CLI wraps them)::

    profile = DeviceProfile.load("cpu_2t")                     # conf/device/cpu_2t.yaml
    lut = build_lut(load_space("nas_bench_macro"), profile)    # measure missing keys, resumable
    lut = LatencyLUT.load(profile.lut_path(), profile=profile, space=space)
    lut.predict(archs)                                         # (n,) ms, vectorised
    report = validate_lut(space, profile, out_dir=".")         # tau / r / MAPE, csv + png
    result = import_published_lut(path, out="luts/i7.csv")     # NSGANetV2 / OFA tables
"""
from .backends import DeviceBackend, backend_kinds, get_backend, register_backend
from .build import build_lut
from .importers import ImportResult, import_published_lut
from .keys import (OpDescriptor, build_module, fixed_keys, is_noop_key, layer_keys, op_descriptor, parse_key,
                   space_keys)
from .profile import DeviceProfile
from .table import LatencyLUT, LatencyModel, LUTMismatchError, MissingKeysError, Row
from .timing import TorchOpTimer, time_forward
from .validate import Agreement, ValidationReport, agreement, fit_affine, measure_archs, validate_lut

__all__ = [
    "Agreement", "DeviceBackend", "DeviceProfile", "ImportResult", "LUTMismatchError", "LatencyLUT", "LatencyModel",
    "MissingKeysError", "OpDescriptor", "Row", "TorchOpTimer", "ValidationReport", "agreement", "backend_kinds", "build_lut",
    "build_module", "fit_affine", "fixed_keys", "get_backend", "import_published_lut", "is_noop_key", "layer_keys",
    "measure_archs", "op_descriptor", "parse_key", "register_backend", "space_keys", "time_forward", "validate_lut",
]
