"""A simulated Frigate host: NVR software on a Linux box, its config, its service, reached over real sshd."""

from enforcer.lab.frigate.host import CONFIG, CTL, HOSTS_DIR, FrigateHost, host_dir

__all__ = ["CONFIG", "CTL", "HOSTS_DIR", "FrigateHost", "host_dir"]
