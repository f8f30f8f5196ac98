"""Which environment variables an ``env:`` secret reference may read.

A CI runner's environment holds far more than enforcer's passwords: the platform's own token, cloud
keys, registry credentials. An inventory from a pull request that could write ``env:AWS_SECRET_ACCESS_KEY``
as a device password would have ``plan`` send a digest of it to an address the pull request
chooses. So a reference reads only

- ``ENFORCE_*``, enforcer's own namespace, which an inventory may use without declaring anything:
  no CI platform or cloud names its credentials so, and a CI administrator who puts a variable
  there means it for enforcer. The organisation's name is *not* used to derive a default prefix,
  because the same pull request could rename the organisation ``aws``;
- the names and ``PREFIX_*`` patterns the inventory declares under ``secrets: {env: [...]}``, so
  the variables a repository reads are stated in one reviewed place;

and never a name in :data:`~enforcer.config.limits.ENV_NEVER_ALLOWED`, which no declaration opens,
since a pull request can edit the declaration too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from enforcer.config import limits

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def refusal(name: str, declared: Sequence[str]) -> str | None:
    """Why ``env:name`` may not be read, or None when it may."""
    if not _NAME.match(name):
        return f"{name!r} is not an environment variable name"
    if any(fnmatchcase(name, pattern) for pattern in limits.ENV_NEVER_ALLOWED):
        return f"environment variable {name} holds CI or cloud credentials: no inventory may read it"
    allowed = (*limits.ENV_ALWAYS_ALLOWED, *declared)
    if any(fnmatchcase(name, pattern) for pattern in allowed):
        return None
    return (
        f"environment variable {name} is not allowed (allowed: {', '.join(allowed)}): declare it, or a "
        "prefix such as NAME_*, under secrets: {env: [...]} in the inventory"
    )
