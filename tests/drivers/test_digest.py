"""The digest flow without sockets: challenges of both families, RFC 2617 vectors, nonce reuse, no retry."""

from __future__ import annotations

import re

import pytest

from enforcer.drivers._wire.digest import (
    Challenge,
    DigestState,
    Reply,
    digest_flow,
    is_stale,
    parse_challenge,
    response,
)
from enforcer.errors import DigestError

# protocol §2.1, verbatim
IPC = (
    'Digest qop="auth", realm="IP Camera(C2183)", nonce="4e5468694e7a42694e7a4d364f4449354d7a6b354d54513d", '
    'stale="FALSE"'
)
NVR = (
    'Digest realm="c504892f438ee5f2114e9fdd", domain="::", qop="auth", '
    'nonce="158ca9b5cb4b32a578432756aef2a189:1669838955551", opaque="", algorithm="MD5", stale="FALSE"'
)
BASIC = 'Basic realm="c504892f438ee5f2114e9fdd"'


def params(header: str) -> dict[str, str]:
    assert header.startswith("Digest ")
    return {k: v1 or v2 for k, v1, v2 in re.findall(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', header[7:])}


def test_rfc2617_vector() -> None:
    # RFC 2617 §3.5
    got = response(
        "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b",
    )  # fmt: skip
    assert got == "6629fae49393a05397450978507c4ef1"


def test_ipc_challenge() -> None:
    ch = parse_challenge([IPC])
    assert ch == Challenge("IP Camera(C2183)", "4e5468694e7a42694e7a4d364f4449354d7a6b354d54513d", ("auth",), None)


@pytest.mark.parametrize("values", [[NVR, BASIC], [BASIC, NVR], [f"{BASIC}, {NVR}"], [f"{NVR}, {BASIC}"]])
def test_nvr_challenge_with_basic_line_ignored(values: list[str]) -> None:
    ch = parse_challenge(values)
    assert ch is not None
    assert ch.realm == "c504892f438ee5f2114e9fdd" and ch.opaque == "" and ch.algorithm == "MD5"
    assert ch.nonce == "158ca9b5cb4b32a578432756aef2a189:1669838955551" and not ch.stale


def test_basic_only_is_no_challenge() -> None:
    assert parse_challenge([BASIC]) is None
    assert parse_challenge([]) is None


def test_stale_and_escapes() -> None:
    ch = parse_challenge(['Digest realm="a \\"quoted\\" realm", nonce="n", qop="auth,auth-int", stale=TRUE'])
    assert ch is not None and ch.realm == 'a "quoted" realm' and ch.stale and ch.qop == ("auth", "auth-int")


def run(
    state: DigestState, replies: list[Reply], uri: str = "/ISAPI/Security/userCheck"
) -> tuple[list[str | None], Reply]:
    """Drive the flow with canned replies; returns what it sent and its final reply."""
    flow = digest_flow(state, "GET", uri, "admin", "pw")
    sent: list[str | None] = []
    step = next(flow)
    try:
        for reply in replies:
            sent.append(step.authorization)
            step = flow.send(reply)
    except StopIteration as done:
        return sent, done.value
    raise AssertionError(f"flow wanted more than {len(replies)} replies")


def test_first_request_reads_the_challenge_unauthenticated_then_answers_it() -> None:
    state = DigestState()
    sent, final = run(state, [Reply(401, (IPC,)), Reply(200, body=b"ok")])
    assert sent[0] is None  # free
    p = params(sent[1] or "")
    assert p["realm"] == "IP Camera(C2183)" and p["qop"] == "auth" and p["nc"] == "00000001"
    assert p["uri"] == "/ISAPI/Security/userCheck" and "opaque" not in p
    want = response("admin", "IP Camera(C2183)", "pw", "GET", p["uri"], p["nonce"], "00000001", p["cnonce"])
    assert p["response"] == want and final.status == 200


def test_nonce_reused_with_increasing_nc() -> None:
    state = DigestState()
    state.adopt(parse_challenge([NVR]))  # type: ignore[arg-type]
    counts = []
    for _ in range(4):
        sent, final = run(state, [Reply(200)])
        assert len(sent) == 1 and final.status == 200
        p = params(sent[0] or "")
        counts.append(p["nc"])
        assert p["opaque"] == "" and p["nonce"].endswith(":1669838955551")
    assert counts == ["00000001", "00000002", "00000003", "00000004"]


def test_a_401_is_never_answered_again() -> None:
    state = DigestState()
    state.adopt(parse_challenge([IPC]))  # type: ignore[arg-type]
    sent, final = run(state, [Reply(401, (IPC.replace("4e54", "ffff"),), b"<userCheck/>")])
    assert len(sent) == 1 and final.status == 401
    # the refusal's fresh nonce is kept, so the next candidate needs no extra round trip
    assert state.challenge is not None and state.challenge.nonce.startswith("ffff") and state.nc == 0


def test_one_fresh_handshake_after_stale_only() -> None:
    state = DigestState()
    state.adopt(parse_challenge([IPC]))  # type: ignore[arg-type]
    stale = IPC.replace('stale="FALSE"', 'stale="TRUE"').replace("4e54", "aaaa")
    assert is_stale(Reply(401, (stale,)))
    sent, final = run(state, [Reply(401, (stale,)), Reply(200)])
    assert len(sent) == 2 and final.status == 200
    assert params(sent[1] or "")["nonce"].startswith("aaaa") and params(sent[1] or "")["nc"] == "00000001"
    # stale twice: the flow gives up rather than answering a third time
    state.adopt(parse_challenge([IPC]))  # type: ignore[arg-type]
    sent, final = run(state, [Reply(401, (stale,)), Reply(401, (stale,))])
    assert len(sent) == 2 and final.status == 401


def test_never_basic_and_no_digest_is_an_error() -> None:
    state = DigestState()
    flow = digest_flow(state, "GET", "/ISAPI/System/deviceInfo", "admin", "pw")
    assert next(flow).authorization is None
    with pytest.raises(DigestError):
        flow.send(Reply(401, (BASIC,)))


def test_unsupported_algorithm_or_qop() -> None:
    with pytest.raises(DigestError, match="SHA-256"):
        DigestState().adopt(Challenge("r", "n", ("auth",), algorithm="SHA-256"))
    with pytest.raises(DigestError, match="qop"):
        DigestState().adopt(Challenge("r", "n", ()))


def test_username_with_quote_is_escaped() -> None:
    state = DigestState()
    state.adopt(parse_challenge([IPC]))  # type: ignore[arg-type]
    header = state.authorization("GET", "/x?a=%22", 'ad"min', "pw")
    assert 'username="ad\\"min"' in header and 'uri="/x?a=%22"' in header
