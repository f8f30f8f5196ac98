"""The device models the fleet generator knows, per vendor: recorders, cameras, firmware, viewer apps.

Kept apart from the generator so that adding a model (or a vendor) is a table edit. Firmware strings
follow each vendor's own format, as the devices report them: Hikvision/Annke ``V4.62.210`` built
``230619`` (YYMMDD); Dahua ``4.002.0000000.8.R`` and Amcrest ``V2.820.00AC000.0.R``, built
``2024-10-30`` (protocols/dahua-cgi.md §6). Each model has a current release (what the inventory
wants) and an older one (what an ``old_firmware`` device runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from enforcer.lab.spec import FAMILY, Family

__all__ = ["CAMERAS", "FAMILY", "RECORDERS", "VIEWERS", "Family", "Model"]


@dataclass(frozen=True)
class Model:
    """A model the generator knows: its ISAPI namespace, and its firmware now and in an older release."""

    name: str
    namespace: Literal["hikvision", "isapi", "none"]  # "none": not an ISAPI device (Dahua CGI)
    version: str
    build: str
    old_version: str
    old_build: str
    channels: int = 0  # recorders: how many cameras it records


def _nvrs(
    names: Sequence[tuple[str, int]],
    version: str,
    build: str,
    old: str,
    old_build: str,
    namespace: Literal["isapi", "none"] = "isapi",
) -> tuple[Model, ...]:
    """Recorders of one family, smallest first: they share one firmware line."""
    return tuple(Model(name, namespace, version, build, old, old_build, channels=n) for name, n in names)


def _by_channels(*families: tuple[Model, ...]) -> tuple[Model, ...]:
    """Recorders of several firmware lines, smallest first (the generator takes the first big enough)."""
    return tuple(sorted((m for family in families for m in family), key=lambda m: m.channels))


RECORDERS: dict[str, tuple[Model, ...]] = {
    "hikvision": _nvrs(
        [
            ("DS-7604NXI-I1", 4),
            ("DS-7608NXI-I2", 8),
            ("DS-7616NXI-I2", 16),
            ("DS-7732NXI-I4", 32),
            ("DS-96256NXI-I24", 256),
        ],
        *("V4.62.210", "230619", "V4.61.025", "220908"),
    ),
    "annke": _nvrs(
        [("N46PCK", 4), ("N48PAW", 8), ("N616PCK", 16), ("N932PCK", 32)], "V4.61.025", "230512", "V4.30.085", "210317"
    ),
    "dahua": _by_channels(
        _nvrs(
            [("DHI-NVR4104HS-P-4KS3", 4), ("DHI-NVR4208-8P-4KS3", 8), ("DHI-NVR608H-128-4KS3", 128)],
            *("4.002.0000000.8.R", "2024-10-30", "4.000.0000000.6.R", "2022-03-18"),
            namespace="none",
        ),
        _nvrs(
            [("DHI-NVR5216-16P-4KS2E", 16), ("DHI-NVR5432-16P-I", 32)],
            *("4.001.0000000.5.R", "2023-09-14", "4.000.0000000.3.R", "2021-06-22"),
            namespace="none",
        ),
    ),
    "amcrest": _nvrs(
        [("NV4108E-HS", 8), ("NV4116E-HS", 16), ("NV5232E-16P", 32)],
        *("V4.001.00AC000.3.R", "2023-11-08", "V4.000.00AC000.1.R", "2021-08-17"),
        namespace="none",
    ),
}

#: Cameras per vendor, each with its weight in a generated site.
CAMERAS: dict[str, tuple[tuple[Model, int], ...]] = {
    "hikvision": (
        (Model("DS-2CD2146G2-ISU", "hikvision", "V5.7.17", "240606", "V5.7.3", "220112"), 3),
        (Model("DS-2CD2386G2-IU", "hikvision", "V5.7.17", "240606", "V5.5.800", "210628"), 1),
    ),
    "annke": (
        (Model("C800", "hikvision", "V5.7.11", "230710", "V5.5.3", "210914"), 3),
        (Model("CZ400", "hikvision", "V5.7.11", "230710", "V5.6.5", "220418"), 1),
    ),
    "dahua": (
        (Model("IPC-HDW2431T-AS-S2", "none", "2.800.0000016.0.R", "2023-02-14", "2.800.0000000.9.R", "2021-07-02"), 3),
        (Model("IPC-HFW5442E-ZE", "none", "2.820.0000000.5.R", "2023-11-30", "2.800.0000012.0.R", "2021-03-18"), 1),
    ),
    "amcrest": (
        (Model("IP8M-2496EB", "none", "V2.820.00AC000.0.R", "2023-06-12", "V2.800.00AC006.0.R", "2021-09-22"), 3),
        (Model("IP5M-T1179EW", "none", "V2.800.00AC009.0.R", "2022-10-13", "V2.620.00AC000.3.R", "2020-05-22"), 1),
    ),
}

#: The apps a ``stale_viewer`` may be, per vendor: what the inventory's ``manual`` client says it is.
VIEWERS: dict[str, tuple[str, ...]] = {
    "hikvision": (
        "iVMS-4200 on the reception PC",
        "iVMS-4200 on the manager's laptop",
        "Hik-Connect on the owner's phone",
    ),
    "annke": ("Annke Vision on the owner's phone", "Guarding Vision on the office PC"),
    "dahua": ("SmartPSS on the reception PC", "DMSS on the owner's phone"),
    "amcrest": ("Amcrest View Pro on the owner's phone", "Amcrest Surveillance Pro on the office PC"),
}
