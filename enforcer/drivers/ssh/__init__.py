"""Linux hosts running NVR software (Frigate and the like), driven over SSH: the ``ssh`` client kind."""

from enforcer.drivers.ssh._driver import SshClient

__all__ = ["SshClient"]
