"""Benchmark: ``enforce rotate`` on a 50-site lab fleet whose every site has stale clients.

Not a test: prints figures, and fails loudly if the rotation does not converge, locks anything, costs a
failed login, or leaves a generated password anywhere in the output, the plan file or the journal. The
lab runs in its own process (``enforce lab serve``), as a fleet would elsewhere; enforce runs as a person
runs it, as a command. The CI test of the same fleet is in tests/engine/test_rotate_lab.py.

    .venv/bin/python bench/rotate_bench.py                      # 50 sites, 4 cameras each, mixed vendors
    .venv/bin/python bench/rotate_bench.py --sites 10 --vendor hikvision --clients ssh,viewer

Every site has a viewer holding its recorder's operator password and a recorder whose channel credentials
go stale (``--clients viewer``, the default, adds a desk viewer holding its admin password): all of them
hold passwords the rotation changes. The lab runs at ``--time-scale 0.1``: at the tests' 0.01 its 100
viewers would re-poll 2,000 times a second and the figures would be the lab's own load.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from enforcer.credentials.store import CredentialStore
from enforcer.lab.generate.generator import generate, parse_clients

sys.path.insert(0, str(Path(__file__).parent))
from engine_bench import ENFORCE, served

_DECLARED = re.compile(r'!secret "vault:\{\{ vault \}\}#\{\{ device \}\}/(admin|operator)"')


def _enforce(scale: float, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([ENFORCE, *args, "--time-scale", str(scale)], capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--vendor", default="mixed")
    parser.add_argument("--clients", default="viewer", help="client kinds added to every site (ssh, viewer)")
    parser.add_argument("--time-scale", type=float, default=0.1)
    options = parser.parse_args()
    scale = options.time_scale
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        spec = generate(
            root,
            sites=options.sites,
            cameras=options.cameras,
            seed=15,
            vendor=options.vendor,
            problems=("stale_viewer", "stale_channel"),
            clients=parse_clients(options.clients),
        )
        inventory = root / "inventory" / "fleet.yml"
        inventory.write_text(_DECLARED.sub('!secret "store:"', inventory.read_text()))
        playbook = str(root / "site.yml")
        with served(root, scale):
            code, out, _ = _enforce(scale, "plan", playbook)
            assert code == 0, out
            code, dry, plan_s = _enforce(scale, "rotate", playbook, "--plan")
            assert code == 2, dry
            code, rotated, rotate_s = _enforce(scale, "rotate", playbook, "--yes", "--json")
            assert code == 0, rotated
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # enforce's; the lab still runs
            code, again, replan_s = _enforce(scale, "plan", playbook, "-o", str(root / "plan.json"))
            assert code == 0, again
            time.sleep(20 * scale)  # the stale clients keep trying their old passwords meanwhile
            events = [json.loads(line) for line in (root / "lab.events.jsonl").read_text().splitlines()]
        locked = [e for e in events if e["event"] == "locked"]
        failed = [e for e in events if e["event"] == "auth_failed"]
        ours = [e for e in failed if e["source"] == "127.0.0.1"]
        stale = {c.source for c in spec.clients} | {h.address for h in spec.hosts}
        blocked = [e for e in events if e["event"] == "blocked"]
        password = (root / "inventory" / ".vault-password").read_text().strip().encode()
        store = CredentialStore.load(root / "inventory" / "credentials.vault", password)
        generated = {e.current.reveal() for _, _, e in store.entries() if e.current is not None}
        journal = b"".join(p.read_bytes() for p in (root / "inventory" / ".enforcer").rglob("*") if p.is_file())
        texts = [dry, rotated, again, (root / "plan.json").read_text(), journal.decode("latin-1")]
        leaked = sum(1 for text in texts for secret in generated if secret in text)
        accounts = sum(1 for _ in store.entries())
        kept_out = {e["source"] for e in blocked} & stale
        print(f"{options.sites} sites, {len(spec.devices)} devices, {options.vendor}, time scale {scale:g}")
        print(f"accounts rotated                 {accounts}")
        print(f"rotate --plan                    {plan_s:6.1f} s")
        print(f"rotate --yes                     {rotate_s:6.1f} s ({rotate_s / options.sites:.2f} s a site)")
        print(f"plan after (no change)           {replan_s:6.1f} s")
        print(f"enforce peak RSS                 {rss:6.0f} MB")
        print(f"locks                            {len(locked)}")
        print(f"failed logins (enforcer's)       {len(failed)} ({len(ours)})")
        print(f"clients blocked while stale      {len(kept_out)} of {len(stale)} ({len(blocked)} blocked requests)")
        print(f"generated passwords in outputs, plan file, journal: {leaked}")
        assert not locked and not ours and not leaked and store.rotations() == {}


if __name__ == "__main__":
    main()
