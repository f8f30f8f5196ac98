"""Hikvision and Annke devices over ISAPI (protocols/hikvision-isapi.md).

The package's one public name is the driver; its modules are the session (digest, every request
guarded), the XML reader, pure parsers, writes and the firmware procedure.
"""

from enforcer.drivers.isapi._driver import IsapiDriver

__all__ = ["IsapiDriver"]
