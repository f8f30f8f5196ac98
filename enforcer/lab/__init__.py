"""The lab: faithful simulators of the devices and clients, over real sockets, and the fleet generator.

It imports nothing from ``enforcer.drivers`` or ``enforcer.engine``: it is an independent
implementation of each protocol, so that one misunderstanding cannot pass both sides.
:mod:`.isapi` and :mod:`.dahua` are the devices' protocols, :mod:`.net` the HTTP server, client,
digest and TLS they share, :mod:`.generate` the fleet generator; the rest is what every simulated
device shares (locks, IP filter, firmware images, channels, the events file) and the running fleet.
"""
