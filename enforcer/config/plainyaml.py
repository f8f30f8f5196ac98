"""Plain YAML in, on libyaml when PyYAML was built with it: for the files enforcer decrypts (vault files,
a credential store edited by hand), which need no line numbers.

Why: PyYAML's own parser took 0.28 s to read the credential store of a 1,000-device fleet; libyaml's
events under the inventory loader's depth-bounded composer read it in 0.08 s. Not libyaml's own
composer: it recurses in C, and a deeply nested file would crash the process instead of raising.
"""

from __future__ import annotations

from typing import Any

import yaml

from enforcer.config import _yaml

__all__ = ["safe_load"]


class _Loader(_yaml.Loader):
    """The safe constructors over libyaml's parser, nested at most :data:`~enforcer.config.limits.MAX_YAML_DEPTH`
    deep; no bound on the number of values (a store grows with the fleet)."""

    counted = False


def safe_load(text: str) -> Any:
    """As :func:`yaml.safe_load`; a file nested too deep is a :class:`yaml.YAMLError` like any bad YAML."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except _yaml.Refused as exc:
        raise yaml.YAMLError(str(exc)) from None
    finally:
        loader.dispose()
