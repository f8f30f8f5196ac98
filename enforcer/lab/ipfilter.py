"""The IP filter every simulated device applies before authentication, whatever its vendor.

A device holds at most :data:`FILTER_SIZE` IPv4 addresses; ``mode`` ``allow`` admits only them,
``deny`` refuses them. Each vendor words its own refusal and its own configuration endpoint.
"""

from __future__ import annotations

import ipaddress

from enforcer.lab.spec import LabIPFilter

__all__ = ["FILTER_SIZE", "filter_blocks", "valid_address"]

FILTER_SIZE = 32


def filter_blocks(ipf: LabIPFilter, source: str) -> bool:
    """Whether the filter refuses ``source`` (checked before authentication)."""
    if not ipf.enabled:
        return False
    listed = source in ipf.addresses
    return not listed if ipf.mode == "allow" else listed


def valid_address(addr: str) -> bool:
    """Whether ``addr`` is an IPv4 address a filter list may hold."""
    try:
        ipaddress.IPv4Address(addr)
    except ValueError:
        return False
    return True
