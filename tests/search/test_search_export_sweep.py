import json

import pandas as pd
import pytest

from oneshot.search import export_subnet, load_subnet, summarize_sweep
from oneshot.space import CostModel, load_space


def test_export_round_trip(nbm_space, tmp_path):
    path = export_subnet(nbm_space, "22212220", tmp_path / "subnet.json", accuracy=93.13, latency=4.2)
    config = json.loads(path.read_text())
    assert config["space"] == "nas_bench_macro"
    assert config["space_fingerprint"] == nbm_space.fingerprint()
    assert nbm_space.parse(config["arch"]) == nbm_space.parse("22212220")
    assert config["ops"][:4] == ["mbconv_k5_e6", "mbconv_k5_e6", "mbconv_k5_e6", "mbconv_k3_e3"]
    assert config["flops"] == CostModel(nbm_space).flops([nbm_space.parse("22212220")])[0]
    assert config["accuracy"] == 93.13 and config["latency"] == 4.2
    arch, loaded = load_subnet(path, nbm_space)
    assert str(arch) == "22212220" and loaded == config
    other = load_space("mobilenet_like")
    with pytest.raises(ValueError, match="fingerprint"):
        load_subnet(path, other)


def test_summarize_sweep(tmp_path):
    for job, (cap, rows) in enumerate([("30e6", [("10110100", 89.4, 2.9e7), ("00100100", 81.4, 1.6e7)]),
                                       ("40e6", [("11110200", 91.5, 3.9e7)])]):
        d = tmp_path / str(job)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- constraint.flops_max={cap}\n- search.seed=0\n")
        pd.DataFrame([{"arch": a, "accuracy": acc, "flops": f, "params": 1.0, "feasible": True}
                      for a, acc, f in rows]).to_csv(d / "pareto.csv", index=False)
    (tmp_path / "2").mkdir()
    pd.DataFrame(columns=["arch", "accuracy", "flops", "params", "feasible"]).to_csv(tmp_path / "2" / "pareto.csv",
                                                                                     index=False)
    summary = summarize_sweep(tmp_path)
    assert summary["job"].tolist() == ["0", "1", "2"]
    assert summary["arch"].tolist()[:2] == ["10110100", "11110200"]
    assert summary["constraint.flops_max"].tolist()[:2] == ["30e6", "40e6"]
    assert summary["pareto_size"].tolist() == [2, 1, 0]
    on_disk = pd.read_csv(tmp_path / "sweep_summary.csv", dtype={"arch": str})
    assert on_disk["arch"].tolist()[:2] == ["10110100", "11110200"]


def _tamper(path, **changes):
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_load_subnet_without_a_space_checks_against_the_named_preset(nbm_space, tmp_path):
    path = export_subnet(nbm_space, "22212220", tmp_path / "subnet.json")
    arch, _ = load_subnet(path)
    assert arch == nbm_space.parse("22212220")
    _tamper(path, arch="99999999")
    with pytest.raises(ValueError, match=r"subnet.json: arch '99999999': layer 0 choice 9 is out of range"):
        load_subnet(path)


def test_load_subnet_refuses_ops_that_do_not_match_the_arch(nbm_space, tmp_path):
    path = export_subnet(nbm_space, "22212220", tmp_path / "subnet.json")
    _tamper(path, arch="00000000")  # ops still describe 22212220
    for space in (None, nbm_space):
        with pytest.raises(ValueError, match="'ops' .* do not match arch 00000000"):
            load_subnet(path, space)


def test_load_subnet_of_an_unknown_space_needs_that_space(nbm_space, tmp_path):
    path = export_subnet(nbm_space, "22212220", tmp_path / "subnet.json")
    _tamper(path, space="my_space")
    with pytest.raises(ValueError, match="which no preset matches: pass that space"):
        load_subnet(path)
    assert load_subnet(path, nbm_space)[0] == nbm_space.parse("22212220")
