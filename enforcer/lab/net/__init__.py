"""The lab's network pieces: an HTTP/1.1 server per device, the digest both sides of a login speak, the
HTTP client simulated recorders and viewers log in with, and the lab's TLS certificate."""
