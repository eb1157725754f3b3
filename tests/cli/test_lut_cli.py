import pytest

from oneshot.latency import DeviceProfile, LatencyLUT
from oneshot.paths import shared_data_dir
from oneshot.workflows.lut import run_lut


def test_unknown_action_is_refused(make_cfg, tmp_path):
    cfg = make_cfg("lut", "lut.action=measure")
    with pytest.raises(ValueError, match=r"lut.action='measure': use one of build, validate, import"):
        run_lut(cfg, tmp_path)


def test_import_needs_a_source(make_cfg, tmp_path):
    cfg = make_cfg("lut", "lut.action=import", "device=nsganetv2_i7_8700k", f"device.lut={tmp_path}/t.csv")
    with pytest.raises(ValueError, match="lut.source"):
        run_lut(cfg, tmp_path)


def test_import_published_nsganetv2_table(make_cfg, tmp_path):
    source = shared_data_dir() / "luts" / "nsganetv2" / "i7-8700K_lut.yaml"
    if not source.is_file():
        pytest.skip(f"{source} absent (the offline ../shared/data folder is not beside the project)")
    cfg = make_cfg("lut", "lut.action=import", "device=nsganetv2_i7_8700k", f"lut.source={source}",
                   f"device.lut={tmp_path}/i7.csv")
    result = run_lut(cfg, tmp_path)
    assert not result.unmapped and len(result.lut) > 1000
    assert len(LatencyLUT.load(tmp_path / "i7.csv")) == len(result.lut)
    # the table names the profile it was imported for, so searches on that device accept it
    lut = LatencyLUT.load(tmp_path / "i7.csv", profile=DeviceProfile.load("nsganetv2_i7_8700k"))
    assert lut.metadata["profile"] == "nsganetv2_i7_8700k"


def test_import_run_from_another_folder_writes_the_table_there_not_into_the_install(cli_elsewhere):
    # issue 14: the default device.lut (luts/<profile>.csv) fell back to the repo's copy
    source = shared_data_dir() / "luts" / "nsganetv2" / "i7-8700K_lut.yaml"
    if not source.is_file():
        pytest.skip(f"{source} absent (the offline ../shared/data folder is not beside the project)")
    out, cwd, changed = cli_elsewhere("lut", "lut.action=import", "device=nsganetv2_i7_8700k",
                                      f"lut.source={source}", "out_dir=out",
                                      luts=("nsganetv2_i7_8700k.csv",))
    assert out.returncode == 0, out.stderr[-2000:]
    assert changed == []
    assert len(LatencyLUT.load(cwd / "luts" / "nsganetv2_i7_8700k.csv")) > 1000
