"""What every HTTP-speaking device protocol shares: the transport (one kept-alive ``http.client``
connection per device, TLS pinning, errors a person can act on), digest as a generator with no I/O,
the session base, the firmware upgrade procedure, and the read-compare-write rules of the lock policy
and the IP filter."""
