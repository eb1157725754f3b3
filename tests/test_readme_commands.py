"""Every bash block of README.md runs as written, with only the small overrides of its marker appended.

Each ```bash block is preceded by one marker line (other HTML comments, e.g. `.ci/run`'s
`<!-- test-command -->`, may sit between the marker and the block):

    <!-- readme-test fixtures=supernet dots=checkpoints/supernet.pt append="data=synthetic" slow -->

Its tokens (shell quoting):

* ``skip="<reason>"``: the block is not run (a GPU, a cluster, an install, a long job).
* ``skip-N="<reason>"``: command N (1-based, after joining ``\\`` continuations) is not run.
* ``shared-data=N,M`` or ``shared-data=all``: commands that need the offline ``../shared/data``;
  skipped, saying so, where it is absent.
* ``fixtures=a,b``: prepared in the block's temporary working directory first (see ``FIXTURES``).
* ``dots="<text>"``: replaces every ``...`` placeholder of the block.
* ``append="<overrides>"``: appended to every ``oneshot-*`` command of the block (before its trailing
  ``# comment``; other commands, e.g. ``mkdir``, run untouched); ``<program>="<overrides>"`` (e.g.
  ``oneshot-search="search.pop_size=4"``) to that program's commands only.
* ``after-install``: run only what follows a command's last ``&&`` (the install is `.ci/run`'s job).
* ``expect="<glob> ..."``: files that must exist in the working directory after the block.
* ``slow``: the block carries the ``slow`` mark (still run in CI).

The commands of a block run in order, in one temporary working directory (so outputs land there,
at Hydra's default run and sweep dirs: no ``hydra.run.dir`` / ``hydra.sweep.dir`` is ever
added), through bash, with the console scripts of this interpreter's environment on PATH.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MARKER = re.compile(r"^<!--\s*readme-test\b(.*?)-->\s*$")
COMMENT = re.compile(r"^<!--.*-->\s*$")
OPTION_KEYS = {"skip", "shared-data", "fixtures", "dots", "append", "after-install", "expect", "slow"}


@dataclass
class Block:
    line: int  # README line of the opening fence
    commands: list[str]
    options: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        first = self.commands[0] if self.commands else ""
        return f"L{self.line}:{first.split('#')[0].strip()[:50]}"


def parse_marker(text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for token in shlex.split(text):
        key, _, value = token.partition("=")
        known = key in OPTION_KEYS or re.fullmatch(r"skip-\d+", key) or key.startswith(("oneshot-", "torchrun"))
        if not known:
            raise ValueError(f"unknown readme-test option {key!r} in marker {text!r}")
        options[key] = value
    return options


def split_commands(body: list[str]) -> list[str]:
    """Join ``\\`` continuations; drop blank and comment-only lines."""
    commands, current = [], ""
    for raw in body:
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        current += line.strip() if current else line
        if current.strip() and not current.lstrip().startswith("#"):
            commands.append(current.strip())
        current = ""
    return commands


def parse_readme(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```bash":
            i += 1
            continue
        options: dict[str, str] | None = None
        j = i - 1
        while j >= 0 and COMMENT.match(lines[j].strip()):
            m = MARKER.match(lines[j].strip())
            if m:
                options = parse_marker(m.group(1))
                break
            j -= 1
        end = lines.index("```", i + 1)
        block = Block(i + 1, split_commands(lines[i + 1:end]), options if options is not None else {"unmarked": ""})
        blocks.append(block)
        i = end + 1
    return blocks


def split_comment(command: str) -> tuple[str, str]:
    """``cmd  # comment`` -> (cmd, '# comment'); README commands never quote a ``#``."""
    m = re.search(r"\s+#\s", command)
    return (command[:m.start()], command[m.start():]) if m else (command, "")


def prepared(command: str, options: dict[str, str]) -> str:
    """The command as the test runs it: placeholders filled, the marker's overrides appended."""
    cmd, comment = split_comment(command)
    if "after-install" in options:
        cmd = cmd.rsplit("&&", 1)[-1].strip()
    if "dots" in options:
        cmd = cmd.replace("...", options["dots"])
    program = shlex.split(cmd)[0]
    common = options.get("append", "") if program.startswith("oneshot-") else ""
    extra = " ".join(v for v in (common, options.get(program, "")) if v)
    return f"{cmd} {extra}".strip()


def _lines(spec: str, n: int) -> set[int]:
    return set(range(1, n + 1)) if spec == "all" else {int(x) for x in spec.split(",") if x}


BLOCKS = parse_readme(README.read_text()) if README.is_file() else []


# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def readme_supernet(tmp_path_factory) -> Path:
    """A tiny nas_bench_macro supernet (synthetic data, 4 steps), trained once for the module."""
    from hydra import compose, initialize_config_dir

    from oneshot.config import register_configs
    from oneshot.paths import conf_dir
    from oneshot.workflows.train import train_supernet

    register_configs()
    tmp = tmp_path_factory.mktemp("readme_supernet")
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", ["data=synthetic", "train=tiny", f"checkpoint={tmp}/supernet.pt",
                                "runtime.progress=false", "runtime.device=cpu"])
    return train_supernet(cfg, tmp)


def fixture_supernet(cwd: Path, commands: list[str], request) -> None:
    """The tiny supernet at checkpoints/supernet.pt and at every relative ``checkpoint=*.pt`` the block names."""
    source = request.getfixturevalue("readme_supernet")
    targets = {"checkpoints/supernet.pt"} | {m for c in commands for m in re.findall(r"checkpoint=(\S+\.pt)", c)}
    for target in targets:
        if not Path(target).is_absolute():
            (cwd / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, cwd / target)


def fixture_lut_cpu_1t(cwd: Path, commands: list[str], request) -> None:
    """luts/cpu_1t.csv for nas_bench_macro with made-up latencies (0.1 ms per op) and a stored correction."""
    from oneshot.latency import DeviceProfile, LatencyLUT, fixed_keys, is_noop_key, layer_keys
    from oneshot.latency.table import Row
    from oneshot.space import load_space

    space = load_space("nas_bench_macro")
    keys = [k for k in dict.fromkeys([k for row in layer_keys(space) for k in row] + fixed_keys(space))
            if not is_noop_key(k)]
    lut = LatencyLUT({k: Row(0.1, 0.1, 0.1, 4) for k in keys}, DeviceProfile.load("cpu_1t").table_metadata())
    lut.set_correction(1.2, 0.3, space=space.name, n=20)
    lut.save(cwd / "luts" / "cpu_1t.csv")


def fixture_my_results_csv(cwd: Path, commands: list[str], request) -> None:
    """my_results.csv: arch,accuracy for every distinct nas_bench_macro network (a made-up ground truth)."""
    import itertools

    import pandas as pd

    from oneshot.space import load_space

    space = load_space("nas_bench_macro")
    archs = sorted({str(space.canonical(space.parse(list(g)))) for g in itertools.product(range(3), repeat=8)})
    pd.DataFrame({"arch": archs, "accuracy": [50.0 + (sum(map(int, a)) + i % 7) / 2 for i, a in enumerate(archs)]}
                 ).to_csv(cwd / "my_results.csv", index=False)


def fixture_repo_conf(cwd: Path, commands: list[str], request) -> None:
    """The repo's conf/ in the working directory (commands that copy a shipped yaml run from the repo root)."""
    (cwd / "conf").symlink_to(REPO / "conf", target_is_directory=True)


def fixture_no_repo_lut(cwd: Path, commands: list[str], request) -> None:
    """Refuse to run where the repo has its own luts/cpu_1t.csv: a relative table path that is missing in
    the working directory falls back to the repo's copy (build.resolve_path), which the block would extend."""
    if (REPO / "luts" / "cpu_1t.csv").exists():
        pytest.skip(f"{REPO / 'luts' / 'cpu_1t.csv'} exists; the block would measure into it")


FIXTURES = {"supernet": fixture_supernet, "lut_cpu_1t": fixture_lut_cpu_1t, "my_results_csv": fixture_my_results_csv,
            "repo_conf": fixture_repo_conf, "no_repo_lut": fixture_no_repo_lut}


# ------------------------------------------------------------------------------------------- tests
def test_readme_has_marked_blocks():
    if not README.is_file():
        pytest.skip("README.md absent")
    assert BLOCKS, "no ```bash block found in README.md"
    unmarked = [b.line for b in BLOCKS if "unmarked" in b.options]
    assert not unmarked, f"README bash blocks without a <!-- readme-test ... --> marker at lines {unmarked}"
    for b in BLOCKS:
        for name in (b.options.get("fixtures") or "").split(","):
            assert not name or name in FIXTURES, f"README line {b.line}: unknown fixture {name!r}"


def test_marker_parsing_and_command_preparation():
    text = ("<!-- readme-test fixtures=supernet dots=checkpoints/s.pt append=\"data=synthetic\" "
            "oneshot-search=\"search.pop_size=4\" skip-2=\"needs SLURM\" -->\n"
            "```bash\noneshot-search -m checkpoint=... \\\n    a=1,2   # a comment\n# only a comment\n"
            "oneshot-train x=1\n```\n")
    (block,) = parse_readme(text)
    assert block.commands == ["oneshot-search -m checkpoint=... a=1,2   # a comment", "oneshot-train x=1"]
    assert prepared(block.commands[0], block.options) == ("oneshot-search -m checkpoint=checkpoints/s.pt a=1,2 "
                                                          "data=synthetic search.pop_size=4")
    assert prepared(block.commands[1], block.options) == "oneshot-train x=1 data=synthetic"
    assert prepared("python3 -m venv .venv && pip install -e . && oneshot-pipeline",
                    {"after-install": "", "append": "a=1"}) == "oneshot-pipeline a=1"
    assert prepared("mkdir -p my_conf/space   # a folder", {"append": "a=1"}) == "mkdir -p my_conf/space"
    with pytest.raises(ValueError, match="unknown readme-test option 'fixture'"):
        parse_marker("fixture=supernet")


def _params():
    for block in BLOCKS:
        marks = []
        if "skip" in block.options:
            marks.append(pytest.mark.skip(reason=f"README: {block.options['skip']}"))
        if "slow" in block.options:
            marks.append(pytest.mark.slow)
        yield pytest.param(block, id=block.id, marks=marks)


@pytest.mark.parametrize("block", list(_params()))
def test_readme_block(block: Block, tmp_path, request):
    from oneshot.paths import shared_data_dir

    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "oneshot-search").exists() and not shutil.which("oneshot-search"):
        pytest.skip("the oneshot-* console scripts are not installed (pip install -e .)")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
           "HYDRA_FULL_ERROR": "0"}
    (tmp_path / "checkpoints").mkdir()
    # an empty SQLite file here keeps the evaluator cache in the temp dir (a missing relative path would
    # fall back to the repo's checkpoints/eval_cache.sqlite)
    (tmp_path / "checkpoints" / "eval_cache.sqlite").touch()
    for name in filter(None, (block.options.get("fixtures") or "").split(",")):
        FIXTURES[name](tmp_path, block.commands, request)
    needs_data = _lines(block.options.get("shared-data", ""), len(block.commands))
    ran = []
    for n, command in enumerate(block.commands, 1):
        if f"skip-{n}" in block.options:
            continue
        if n in needs_data and not shared_data_dir().is_dir():
            continue
        cmd = prepared(command, block.options)
        out = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, (f"README line {block.line}, command {n} failed (exit {out.returncode}):\n"
                                     f"{cmd}\n--- stderr ---\n{out.stderr[-3000:]}\n--- stdout ---\n{out.stdout[-1500:]}")
        ran.append(cmd)
    if not ran:
        pytest.skip(f"every command needs {shared_data_dir()} (absent) or is skipped")
    for pattern in shlex.split(block.options.get("expect", "")):
        assert list(tmp_path.glob(pattern)), f"README line {block.line}: nothing matches {pattern!r} after {ran}"
