"""Drivers: the only code that talks to devices; one package per protocol, found through the registry.

:mod:`.base` states what a driver does (a required protocol and optional abilities), :mod:`.registry`
maps vendors to drivers (``enforcer.vendors`` entry points), :mod:`._wire` holds what the protocol
packages share (HTTP transport, digest, sessions, the firmware procedure), and :mod:`.isapi` and
:mod:`.dahua` are the protocols.
"""
