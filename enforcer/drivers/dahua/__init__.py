"""Dahua and Amcrest devices over CGI and the RPC2 login (protocols/dahua-cgi.md, docs/dahua-wire.md).

The package's one public name is the driver; its modules are the session (CGI digest, every
request guarded), the RPC2 login, key=value bodies, pure parsers, writes and the firmware procedure.
"""

from enforcer.drivers.dahua._driver import DahuaDriver

__all__ = ["DahuaDriver"]
