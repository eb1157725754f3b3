"""`oneshot-<app> --help`: the app's purpose and examples, and only the config groups it uses.

Each app yaml sets ``hydra.help.template: ${oneshot_help:<app>}``; the resolver
(registered by :mod:`oneshot.cli.app`) renders the app's module docstring, its
config groups with their options (the ``base_*`` schema entries left out, a
user's ``--config-dir`` options included), and the part of the composed config
the app reads. Hydra then fills in ``$FLAGS_HELP``.
"""
from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf


@dataclass(frozen=True)
class AppHelp:
    doc: str
    groups: tuple[str, ...]  # config groups the app reads
    keys: tuple[str, ...]  # top-level keys the app reads besides the groups


APPS: dict[str, AppHelp] = {}

OWN_CONFIG_HINT = ("Your own space or device profile: put it in <dir>/space/<name>.yaml (or <dir>/device/) "
                   "and pass --config-dir <dir> space=<name>  (README: \"Your own space or device profile\").")


def register(app: str, doc: str | None, groups: tuple[str, ...], keys: tuple[str, ...]) -> None:
    APPS[app] = AppHelp((doc or "").strip(), tuple(groups), tuple(keys))


def _options(group: str) -> list[str]:
    from hydra.core.global_hydra import GlobalHydra

    if not GlobalHydra.instance().is_initialized():
        return []
    options = GlobalHydra.instance().config_loader().get_group_options(group)
    return [o for o in options if not o.startswith("base_")]


def render(app: str, root: DictConfig) -> str:
    """The help template of ``app``: everything escaped for ``string.Template`` but ``$FLAGS_HELP``."""
    spec = APPS[app]
    choices = OmegaConf.select(root, "hydra.runtime.choices") or {}
    lines = [spec.doc, "", "== Config groups (group=option; * = the default) =="]
    for group in spec.groups:
        chosen = choices.get(group)
        lines.append(f"{group}: " + ", ".join(f"{o}*" if o == chosen else o for o in _options(group)))
    used = OmegaConf.masked_copy(root, [k for k in (*spec.keys, *spec.groups) if k in root])
    lines += ["", OWN_CONFIG_HINT, "",
              "== Config it reads (override any key: key.sub=value; --cfg job prints all of it) ==",
              OmegaConf.to_yaml(used, resolve=False).rstrip(), ""]
    return "\n".join(lines).replace("$", "$$") + "\n== Flags ==\n$FLAGS_HELP"
