"""Labs side by side: each takes a free loopback block at start, its repository follows, and a lab that
cannot start says so in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enforcer.cli import main
from enforcer.lab.fleet import Fleet, LabError
from enforcer.lab.generate.generator import generate

pytestmark = pytest.mark.lab

SCALE = 0.01


def test_two_labs_of_the_same_fleet_serve_at_once_each_repo_following_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [generate(tmp_path / name, sites=2, cameras=2, seed=7, problems=("stale_viewer",)) for name in "ab"]
    assert specs[0].devices[0].address == specs[1].devices[0].address  # written for the same block
    with (
        Fleet(specs[0], time_scale=SCALE, directory=tmp_path / "a"),
        Fleet(specs[1], time_scale=SCALE, directory=tmp_path / "b"),
    ):
        ready = [json.loads((tmp_path / n / "lab.ready.json").read_text()) for n in "ab"]
        assert ready[0]["base"] != ready[1]["base"]
        assert {d["address"].split(".")[1] for d in ready[1]["devices"]} == {str(ready[1]["base"])}
        for name, lab in zip("ab", ready, strict=True):
            assert f'"127.{lab["base"]}"' in (tmp_path / name / "inventory" / "lab.yml").read_text()
            capsys.readouterr()
            assert main(["plan", str(tmp_path / name / "site.yml"), "--time-scale", str(SCALE)]) == 2
            assert "facts failed" not in capsys.readouterr().out
    for name in "ab":
        events = [json.loads(line) for line in (tmp_path / name / "lab.events.jsonl").read_text().splitlines()]
        assert not [e for e in events if e["event"] in ("auth_failed", "locked") and e["source"] == "127.0.0.1"]


def test_a_block_taken_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = generate(tmp_path / "a", sites=1, cameras=1, seed=3)
    generate(tmp_path / "b", sites=1, cameras=1, seed=3)
    with Fleet(first, time_scale=SCALE, directory=tmp_path / "a", base=61):
        code = main(["lab", "serve", str(tmp_path / "b"), "--base", "61"])
        _, err = capsys.readouterr()
        assert code == 1 and "could not start" in err and "127.61.0.1" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    code = main(["lab", "serve", str(tmp_path / "b"), "--base", "5"])
    _, err = capsys.readouterr()
    assert code == 1 and "between 10 and" in err and "Traceback" not in err


def test_fixed_addresses_never_move(tmp_path: Path) -> None:
    spec = generate(tmp_path / "a", sites=1, cameras=1, seed=3)
    spec.base = None  # a hand-built spec
    before = [d.address for d in spec.devices]
    with Fleet(spec, time_scale=SCALE, directory=tmp_path / "a", base=77):
        assert [d.address for d in spec.devices] == before
    with (  # the same addresses, taken twice
        pytest.raises(LabError),
        Fleet(spec, time_scale=SCALE, directory=tmp_path / "a"),
        Fleet(spec, time_scale=SCALE, directory=tmp_path / "c"),
    ):
        pass
