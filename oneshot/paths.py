"""Where the project's config and shared data live."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def conf_dir() -> Path:
    """The Hydra config dir: ``$ONESHOT_CONF_DIR`` or ``conf/`` beside the package."""
    env = os.environ.get("ONESHOT_CONF_DIR")
    path = Path(env) if env else REPO_DIR / "conf"
    if not path.is_dir():
        raise FileNotFoundError(
            f"config dir {path} not found: install oneshot from a checkout with "
            "`pip install -e .` or point ONESHOT_CONF_DIR at a copy of its conf/ folder"
        )
    return path


def shared_data_dir() -> Path:
    """Offline data shipped beside the project (``../shared/data``), or ``$ONESHOT_SHARED_DATA``."""
    env = os.environ.get("ONESHOT_SHARED_DATA")
    return Path(env) if env else REPO_DIR.parent / "shared" / "data"
