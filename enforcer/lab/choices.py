"""The names ``enforce lab generate`` accepts. Not in :mod:`.spec` (6 ms to import): every command
builds the whole command line, these choices with it.
"""

from __future__ import annotations

#: What ``enforce lab generate`` writes: every site of one vendor, or mixed (each site one, in turn).
VENDORS = ("hikvision", "annke", "dahua", "amcrest", "mixed")
#: The clients it can add to every site (each has a writer in the generator).
CLIENT_KINDS = ("milestone", "ssh", "viewer")

PROBLEMS = (
    "default_password",
    "weak_password",
    "old_firmware",
    "lock_disabled",
    "locked",
    "stale_viewer",
    "stale_channel",
    "unknown_password",
)
