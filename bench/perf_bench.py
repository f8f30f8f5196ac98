"""Benchmark: enforce side by side with the asyncio floor (and Ansible) on the same reads, in one run.

    .venv/bin/pip install -q -e '.[bench]'       # aiohttp, for the floor client (bench/floor.py)
    unshare --net bash -c 'ip link set lo up; .venv/bin/python bench/perf_bench.py \\
        --enforce baseline=/path/to/other/.venv/bin/enforce --runs 3 --large 10000 --ansible 100'

It generates a converged Hikvision fleet (``--sites`` x (1 recorder + ``--cameras``)), serves it with
the lab in a child process (which counts the requests each device serves, and its own CPU), and runs,
each as a process of its own, measured by ``wait4`` (wall, CPU-s of the process and its children, peak
RSS):

- ``enforce facts``, ``enforce plan`` and a converged ``enforce apply --yes`` of the whole fleet, for
  this checkout's enforce and every ``--enforce LABEL=PATH`` (another checkout's, for before/after);
- the floor (``bench/floor.py``): aiohttp sending exactly the requests this checkout's enforce sent
  for the same command (read from its ``-vv`` request log in a run not measured), with digest;

``--runs`` times, the order rotated each run (the machine is shared: medians of alternating runs), each
enforce's bytecode written first, as an install writes it (an editable one under PYTHONDONTWRITEBYTECODE
would compile itself from source on every run),
then prints a table per workload: wall, CPU-s, RSS, requests per device, failed logins and locks (from
the lab's events file), and wall against the floor. Also measured:

- ``--large N``: ``enforce facts`` and the floor at N devices (``--large-runs`` times);
- open files: ``enforce facts`` of the fleet under ``ulimit -n 1024``, the common default;
- start-up: ``enforce --version``, median of ten;
- ``--ansible N``: ansible-playbook (``uri`` with digest, ``connection: local``, forks 50,
  ``changed_when: false``) reading on N devices what enforce facts reads, with enforce and the floor on
  the same fleet; then where Ansible is unsafe: its requests in ``--check`` (none: check mode reads
  nothing, so it cannot tell what would change), and the failed logins its ``uri`` sends one device
  with a stale password (urllib's digest handler answers every 401 with another attempt).

Targets (issue 16): facts, plan and the converged apply within 1.5x the floor at 1,000 devices;
10,000 devices' facts under 20 s and 300 MB; start-up under 0.15 s; 100x Ansible's throughput.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from floor import requests_from_log

BENCH = Path(__file__).resolve().parent
ENFORCE = str(Path(sys.executable).parent / "enforce")
ANSIBLE = str(Path(sys.executable).parent / "ansible-playbook")
#: Each workload's command after ``enforce``; the fleet is converged, so apply changes nothing.
WORKLOADS = {"facts": ["facts"], "plan": ["plan"], "apply": ["apply", "--yes"]}
FLOOR = "floor (aiohttp)"
OPEN_FILES = 1024


@dataclass
class Figures:
    """One process's run, and what the lab saw meanwhile."""

    wall: float
    cpu: float
    rss_mb: float
    code: int
    requests: int
    failed_logins: int
    locks: int
    lab_cpu: float


def _serve(root: str, part: int, parts: int, conn: Connection) -> None:
    """A lab process: serve its part of the fleet (every ``parts``-th site, from the ``part``-th), at the
    addresses the inventory was written for; answer each "count" with (requests served, own CPU-s)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    from dataclasses import replace

    from enforcer.lab.fleet import Fleet
    from enforcer.lab.spec import LabSpec

    spec = LabSpec.load(Path(root) / "lab.spec.json")
    sites = sorted({d.site for d in spec.devices})[part::parts]
    mine = replace(
        spec,
        devices=[d for d in spec.devices if d.site in sites],
        clients=[c for c in spec.clients if c.site in sites],
        hosts=[h for h in spec.hosts if h.site in sites],
    )
    folder = Path(root) if parts == 1 else Path(root) / f"lab-part-{part}"
    with Fleet(mine, directory=folder, base=None if parts > 1 else "auto") as fleet:
        ours = {d.address for d in spec.devices}  # recorders polling their cameras: not the client's requests
        conn.send("ready")
        while conn.recv() != "stop":
            served = fleet.call(
                lambda: sum(n for e in fleet.endpoints.values() for a, n in e.requests.items() if a not in ours)
            )
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send((served, usage.ru_utime + usage.ru_stime))


class Lab:
    """A generated fleet, served by ``processes`` lab processes; counts what each measured process made it do.

    One lab process serves a thousand devices; ten thousand need several (a recorder keeps a connection
    to each of its cameras, and one process would pass its open-files limit), each serving whole sites.
    """

    def __init__(self, root: Path, sites: int, cameras: int, processes: int = 1) -> None:
        from enforcer.lab.generate.generator import generate

        self.root = root
        spec = generate(root, sites=sites, cameras=cameras, seed=1)
        self.devices = len(spec.devices)
        self.passwords = {d.name: next(a.password for a in d.accounts if a.name == "admin") for d in spec.devices}
        self.playbook = str(root / "site.yml")
        self.folders = [root] if processes == 1 else [root / f"lab-part-{k}" for k in range(processes)]

    @contextmanager
    def served(self) -> Iterator[Lab]:
        ctx = mp.get_context("spawn")
        self._conns: list[Connection] = []
        processes = []
        for part in range(len(self.folders)):
            conn, child = ctx.Pipe()
            process = ctx.Process(target=_serve, args=(str(self.root), part, len(self.folders), child), daemon=True)
            process.start()
            self._conns.append(conn)
            processes.append(process)
        for conn in self._conns:
            if not conn.poll(900) or conn.recv() != "ready":
                raise SystemExit("the lab did not come up")
        try:
            yield self
        finally:
            for conn in self._conns:
                conn.send("stop")
            for process in processes:
                process.join(60)

    def counters(self) -> tuple[int, float]:
        """Requests served and the lab's CPU-s so far, every lab process together."""
        for conn in self._conns:
            conn.send("count")
        answers = [conn.recv() for conn in self._conns]
        return sum(int(a[0]) for a in answers), sum(float(a[1]) for a in answers)

    def urls(self) -> dict[str, str]:
        """Each device's URL as the lab serves it (its block may have moved), by name."""
        found = {}
        for folder in self.folders:
            ready = json.loads((folder / "lab.ready.json").read_text(encoding="utf-8"))
            found.update({d["url"]: d["name"] for d in ready["devices"]})
        return found

    def measure(self, command: Sequence[str], *, open_files: int | None = None) -> Figures:
        served, lab_cpu = self.counters()
        offsets = self._offsets()
        limit = None if open_files is None else (lambda: _open_files(open_files))
        with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as report:
            shim = [sys.executable, "-S", "-c", SHIM, str(report.fileno()), *command]
            process = subprocess.Popen(
                shim, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit, pass_fds=(report.fileno(),)
            )
            process.wait()
            report.seek(0)
            code, wall, cpu, peak_kb = json.loads(report.read())
            if code:
                err.seek(0)
                tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
                print(f"  ! {' '.join(command[:3])}… exit {code}: {' / '.join(tail)}", flush=True)
        served_after, lab_after = self.counters()
        failed, locks = self._events_since(offsets)
        return Figures(
            wall=wall,
            cpu=cpu,
            rss_mb=peak_kb / 1024,
            code=code,
            requests=served_after - served,
            failed_logins=failed,
            locks=locks,
            lab_cpu=lab_after - lab_cpu,
        )

    def _offsets(self) -> list[int]:
        return [e.stat().st_size if e.exists() else 0 for e in (f / "lab.events.jsonl" for f in self.folders)]

    def _events_since(self, offsets: list[int]) -> tuple[int, int]:
        """Failed logins and locks in the lab's events files since ``offsets``."""
        kinds: list[str] = []
        for folder, offset in zip(self.folders, offsets, strict=True):
            events = folder / "lab.events.jsonl"
            if events.exists():
                with events.open("rb") as stream:
                    stream.seek(offset)
                    kinds += [json.loads(line).get("event") for line in stream if line.strip()]
        return kinds.count("auth_failed"), kinds.count("locked")

    def floor_requests(self, enforce: str, workload: str, folder: Path) -> Path:
        """What ``enforce`` sends for ``workload`` (its ``-vv`` log, a run not measured), as the floor's input."""
        log = folder / f"{workload}.log"
        with log.open("w") as err:
            subprocess.run(
                [enforce, "-vv", *WORKLOADS[workload], self.playbook],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "COLUMNS": "1000"},
                check=False,
            )
        with log.open() as lines:
            sent = requests_from_log(lines)
        names = self.urls()
        plan = {u: {"user": "admin", "password": self.passwords[names[u]], "requests": r} for u, r in sent.items()}
        path = folder / f"{workload}.requests.json"
        path.write_text(json.dumps(plan), encoding="utf-8")
        return path


#: Runs the measured command and reports its exit code, wall, CPU-s (its children's too) and peak RSS to the
#: file descriptor in argv[1]. A small process of its own forks it: on Linux a process's peak RSS counts the
#: memory of the process it was forked from, and this benchmark's own grows with the fleets it generates.
SHIM = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
report = [os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]
os.write(int(sys.argv[1]), json.dumps(report).encode())
"""


def _compile_bytecode(enforce: str) -> None:
    """Write the bytecode of the enforcer package behind ``enforce``, as installing it does.

    An editable install writes none until a run imports each module without PYTHONDONTWRITEBYTECODE (which
    CI machines and containers often set): every measured run would then compile the package from source,
    a cost no installed enforce pays, while the floor's aiohttp has its bytecode from pip.
    """
    python = str(Path(enforce).with_name("python"))
    where = "import enforcer, os; print(os.path.dirname(enforcer.__file__))"
    package = subprocess.run([python, "-c", where], capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([python, "-m", "compileall", "-q", package], env=env, stdout=subprocess.DEVNULL, check=True)


def _open_files(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def _floor(requests: Path) -> list[str]:
    return [sys.executable, str(BENCH / "floor.py"), str(requests), "--concurrency", "20"]


def _rotated(items: Sequence[Any], by: int) -> list[Any]:
    return [*items[by % len(items) :], *items[: by % len(items)]]


def _median(runs: list[Figures], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def _table(title: str, rows: dict[str, list[Figures]], devices: int, reference: str | None) -> None:
    print(f"\n{title}")
    columns = ("wall s", 7), ("CPU-s", 7), ("RSS MB", 7), ("req/dev", 8), ("failed", 7), ("locks", 6), ("lab CPU", 8)
    head = f"  {'':24} " + " ".join(f"{name:>{width}}" for name, width in columns)
    print(head + ("  vs floor" if reference else ""))
    floor = _median(rows[reference], "wall") if reference and rows.get(reference) else None
    for label, runs in rows.items():
        if not runs:
            continue
        wall = _median(runs, "wall")
        bad = sum(1 for r in runs if r.code)
        line = (
            f"  {label:24} {wall:7.2f} {_median(runs, 'cpu'):7.2f} {_median(runs, 'rss_mb'):7.0f} "
            f"{_median(runs, 'requests') / devices:8.2f} {max(r.failed_logins for r in runs):7d} "
            f"{max(r.locks for r in runs):6d} {_median(runs, 'lab_cpu'):8.2f}"
        )
        if floor:
            line += f"  {wall / floor:7.2f}x"
        if bad:
            line += f"  ({bad} of {len(runs)} runs failed)"
        print(line, flush=True)


def side_by_side(
    lab: Lab, variants: dict[str, str], only: dict[str, set[str]], runs: int, folder: Path
) -> dict[str, dict[str, list[Figures]]]:
    """Every workload for every variant (those of ``only`` where it names some) and the floor, ``runs``
    times in rotated order."""
    inputs = {w: lab.floor_requests(ENFORCE, w, folder) for w in WORKLOADS}
    commands: dict[str, Callable[[str], list[str]]] = {
        label: (lambda w, path=path: [path, *WORKLOADS[w], lab.playbook]) for label, path in variants.items()
    }
    commands[FLOOR] = lambda w: _floor(inputs[w])
    results: dict[str, dict[str, list[Figures]]] = {w: {label: [] for label in commands} for w in WORKLOADS}
    for run in range(runs):
        for label in _rotated(list(commands), run):
            for workload in WORKLOADS:
                if workload in only.get(label, WORKLOADS):
                    results[workload][label].append(lab.measure(commands[label](workload)))
        print(f"  run {run + 1} of {runs} done", flush=True)
    return results


def large(lab: Lab, variants: dict[str, str], runs: int, folder: Path) -> dict[str, list[Figures]]:
    requests = lab.floor_requests(ENFORCE, "facts", folder)
    commands = {label: [path, "facts", lab.playbook] for label, path in variants.items()}
    commands[FLOOR] = _floor(requests)
    results: dict[str, list[Figures]] = {label: [] for label in commands}
    for run in range(runs):
        for label in _rotated(list(commands), run):
            results[label].append(lab.measure(commands[label]))
    return results


def startup(variants: dict[str, str], times: int = 10) -> dict[str, float]:
    walls: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(times):
        for label, path in variants.items():
            start = time.perf_counter()
            subprocess.run([path, "--version"], stdout=subprocess.DEVNULL, check=True)
            walls[label].append(time.perf_counter() - start)
    return {label: statistics.median(w) for label, w in walls.items()}


# -- Ansible ---------------------------------------------------------------------------------------------

PLAY = """\
- name: Read what enforce facts reads
  hosts: devices
  connection: local
  gather_facts: false
  tasks:
    - name: each resource, with digest
      ansible.builtin.uri:
        url: "{{ url }}{{ item }}"
        url_username: admin
        url_password: "{{ password }}"
        return_content: true
      loop: "{{ paths }}"
      changed_when: false
"""


def ansible_files(
    lab: Lab, requests: Path, folder: Path, *, only: str | None = None, password: str | None = None
) -> Path:
    """An inventory of the fleet's devices (each with the paths enforce facts read from it) and the play."""
    plan = json.loads(requests.read_text(encoding="utf-8"))
    names = lab.urls()
    hosts = {}
    for url, entry in plan.items():
        name = names[url]
        if only is not None and name != only:
            continue
        paths = list(dict.fromkeys(target for _, target in entry["requests"]))
        hosts[name] = {"url": url, "password": password or entry["password"], "paths": paths}
    inventory = folder / f"ansible-{only or 'all'}.json"
    inventory.write_text(json.dumps({"devices": {"hosts": hosts}}), encoding="utf-8")
    (folder / "read.yml").write_text(PLAY, encoding="utf-8")
    return inventory


def ansible(inventory: Path, folder: Path, *extra: str) -> list[str]:
    return [ANSIBLE, "-i", str(inventory), str(folder / "read.yml"), "--forks", "50", *extra]


def ansible_env(folder: Path) -> None:
    home = folder / "ansible-home"
    home.mkdir(exist_ok=True)
    os.environ.update(
        {
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        }
    )


def against_ansible(sites: int, cameras: int, variants: dict[str, str], runs: int, folder: Path) -> None:
    ansible_env(folder)
    lab = Lab(folder / "ansible-fleet", sites, cameras)
    with lab.served():
        requests = lab.floor_requests(ENFORCE, "facts", folder)
        inventory = ansible_files(lab, requests, folder)
        commands = {label: [path, "facts", lab.playbook] for label, path in variants.items()}
        commands[FLOOR] = _floor(requests)
        commands["ansible-playbook"] = ansible(inventory, folder)
        rows: dict[str, list[Figures]] = {label: [] for label in commands}
        for run in range(runs):
            for label in _rotated(list(commands), run):
                rows[label].append(lab.measure(commands[label]))
        _table(f"facts' reads at {lab.devices} devices, against Ansible", rows, lab.devices, FLOOR)
        ours, theirs = _median(rows["this checkout"], "wall"), _median(rows["ansible-playbook"], "wall")
        print(f"  enforce reads {theirs / ours:.0f}x faster than Ansible here")
        check = lab.measure(ansible(inventory, folder, "--check"))
        print(f"  ansible-playbook --check: {check.requests} requests (check mode reads nothing, so says nothing)")
        victim = next(name for name in lab.passwords if name.startswith("cam-"))
        stale = ansible_files(lab, requests, folder, only=victim, password="a-stale-password")
        once = lab.measure([*ansible(stale, folder), "-e", json.dumps({"paths": ["/ISAPI/System/deviceInfo"]})])
        print(
            f"  one uri call to {victim} with a stale password: {once.requests} requests, "
            f"{once.failed_logins} failed logins, {once.locks} locks (enforce: one attempt per uncertain credential)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--cameras", type=int, default=9)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--enforce",
        action="append",
        default=[],
        metavar="LABEL=PATH[:WORKLOAD,...]",
        help="another enforce (another checkout's), for the named workloads only if any are named (an older "
        "enforce may not call the fleet converged: its apply would change it, so give it facts only)",
    )
    parser.add_argument("--large", type=int, default=0, metavar="DEVICES", help="also facts at this size (10000)")
    parser.add_argument("--large-runs", type=int, default=1)
    parser.add_argument("--lab-processes", type=int, default=3, help="lab processes serving the --large fleet")
    parser.add_argument("--ansible", type=int, default=0, metavar="DEVICES", help="also Ansible at this size (100)")
    args = parser.parse_args()
    variants, only = {"this checkout": ENFORCE}, {}
    for item in args.enforce:
        label, _, path = item.partition("=")
        path, _, workloads = path.partition(":")
        variants[label] = path
        if workloads:
            only[label] = set(workloads.split(","))
    for path in variants.values():
        _compile_bytecode(path)
    folder = Path(tempfile.mkdtemp(prefix="perf-bench-"))
    try:
        lab = Lab(folder / "fleet", args.sites, args.cameras)
        with lab.served():
            results = side_by_side(lab, variants, only, args.runs, folder)
            for workload, rows in results.items():
                _table(f"{workload}, {lab.devices} devices (medians of {args.runs})", rows, lab.devices, FLOOR)
            print(f"\nopen files: enforce facts of {lab.devices} devices under ulimit -n {OPEN_FILES}")
            for label, path in variants.items():
                done = lab.measure([path, "facts", lab.playbook], open_files=OPEN_FILES)
                print(f"  {label:24} {'ok' if done.code == 0 else f'failed (exit {done.code})'}")
        if args.large:
            big = Lab(folder / "large", args.large // (args.cameras + 1), args.cameras, args.lab_processes)
            with big.served():
                rows = large(big, variants, args.large_runs, folder)
            _table(f"facts, {big.devices} devices (medians of {args.large_runs})", rows, big.devices, FLOOR)
        print("\nstart-up: enforce --version, median of 10")
        for label, wall in startup(variants).items():
            print(f"  {label:24} {wall:.3f} s")
        if args.ansible:
            against_ansible(max(1, args.ansible // (args.cameras + 1)), args.cameras, variants, 1, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
