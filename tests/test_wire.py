"""The wire layer with plain bytes: no sockets, no processes."""

import json
import math
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykernel.wire import MalformedMessage, DELIMITER, Message, ProtocolError, Session, Signer, dumps

KEY = b"secret-key"


def frames_for(session, msg_type="execute_request", content=None, **kw):
    return session.serialize(msg_type, content if content is not None else {"code": "1"}, **kw)


def test_round_trip_keeps_every_part():
    s = Session(KEY)
    frames = s.serialize("execute_request", {"code": "x"}, metadata={"m": 1},
                         buffers=[b"\x00\x01"], identities=[b"client-1"])
    msg = Session(KEY).deserialize(frames)
    assert msg.identities == [b"client-1"]
    assert msg.msg_type == "execute_request"
    assert msg.content == {"code": "x"}
    assert msg.metadata == {"m": 1}
    assert msg.parent_header == {}
    assert msg.buffers == [b"\x00\x01"]


def test_header_fields():
    s = Session(KEY, username="alice")
    h = json.loads(frames_for(s)[2])
    assert set(h) == {"msg_id", "session", "username", "date", "msg_type", "version"}
    assert h["session"] == s.session_id and h["username"] == "alice"
    assert h["version"] == "5.6"
    assert h["date"].endswith("Z")
    datetime.fromisoformat(h["date"].replace("Z", "+00:00"))
    assert json.loads(frames_for(s)[2])["msg_id"] != h["msg_id"]


def test_sessions_have_distinct_ids():
    assert Session().session_id != Session().session_id


def test_reply_takes_parent_identity_and_subshell():
    s = Session(KEY)
    req = Message({"msg_id": "a", "msg_type": "execute_request", "subshell_id": "sub-1"}, {}, {},
                  {}, identities=[b"id1", b"id2"])
    frames = s.serialize("execute_reply", {"status": "ok"}, parent=req)
    assert frames[:3] == [b"id1", b"id2", DELIMITER]
    header, parent = json.loads(frames[4]), json.loads(frames[5])
    assert parent == req.header
    assert header["subshell_id"] == "sub-1"


@pytest.mark.parametrize("scheme", ["hmac-sha256", "hmac-sha512", "hmac-md5"])
def test_signature_schemes(scheme):
    frames = frames_for(Session(KEY, scheme))
    assert Session(KEY, scheme).deserialize(frames).content == {"code": "1"}
    with pytest.raises(ProtocolError, match="invalid signature"):
        Session(b"other", scheme).deserialize(frames)


def test_unknown_scheme_is_our_callers_error():
    with pytest.raises(ValueError):
        Signer(KEY, "hmac-sha1")


def test_unsigned_message_rejected_when_keyed():
    frames = frames_for(Session(b""))
    with pytest.raises(ProtocolError, match="unsigned"):
        Session(KEY).deserialize(frames)


def test_empty_key_accepts_unsigned():
    assert Session(b"").deserialize(frames_for(Session(b""))).msg_type == "execute_request"


def test_tampered_content_rejected():
    frames = frames_for(Session(KEY))
    frames[-1] = b'{"code": "import os; os.system(\'rm -rf /\')"}'
    with pytest.raises(ProtocolError, match="invalid signature"):
        Session(KEY).deserialize(frames)


def test_replay_rejected():
    receiver = Session(KEY)
    frames = frames_for(Session(KEY))
    receiver.deserialize(frames)
    with pytest.raises(ProtocolError, match="replayed"):
        receiver.deserialize(frames)


def test_replay_history_is_bounded():
    signer = Signer(KEY, history=3)
    sigs = [signer.sign([str(i).encode()]) for i in range(5)]
    for i, sig in enumerate(sigs):
        signer.verify(sig, [str(i).encode()])
    assert len(signer._seen) == 3
    signer.verify(sigs[0], [b"0"])  # forgotten: the history holds only the newest three


@pytest.mark.parametrize("frames,match", [
    ([b"a", b"b"], "delimiter"),
    ([DELIMITER, b"", b"{}", b"{}"], "frames after"),
    ([DELIMITER, b"", b"[]", b"{}", b"{}", b"{}"], "header is a JSON list"),
    ([DELIMITER, b"", b"\xff", b"{}", b"{}", b"{}"], "header is not valid UTF-8"),
    ([DELIMITER, b"", b"{", b"{}", b"{}", b"{}"], "header is not JSON"),
    ([DELIMITER, b"", b"{}", b"{}", b"{}", b"{}"], "no msg_type"),
    ([DELIMITER, b"", b'{"msg_type": "x", "subshell_id": 3}', b"{}", b"{}", b"{}"], "subshell_id"),
    ([DELIMITER, b"", b'{"msg_type": "x"}', b"{}", b"{}", b"[" * 100000],
     "content is nested too deeply to parse"),
])
def test_malformed_frames(frames, match):
    with pytest.raises(ProtocolError, match=match):
        Session(b"").deserialize(frames)


def test_dumps_converts_what_json_cannot_hold():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    out = json.loads(dumps({"when": when, "raw": b"\x00\xff", "nan": math.nan, "inf": [math.inf],
                            "tuple": (1, 2), "set": {3}}))
    assert out == {"when": "2026-01-02T03:04:05+00:00", "raw": "AP8=", "nan": None,
                   "inf": [None], "tuple": [1, 2], "set": [3]}


def test_dumps_survives_lone_surrogates():
    assert json.loads(dumps({"s": "a\udc80b"})) == {"s": "a\udc80b"}


frame = st.binary(max_size=64)
json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=8).map(lambda v: json.dumps(v).encode())


@settings(max_examples=300, deadline=None)
@given(st.lists(frame | st.just(DELIMITER) | json_text, max_size=10))
def test_random_frames_raise_only_protocol_error(frames):
    for key in (b"", KEY):
        try:
            Session(key).deserialize(frames)
        except ProtocolError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=7), st.binary(max_size=32), st.booleans())
def test_mutated_frames_raise_only_protocol_error(index, junk, keyed):
    key = KEY if keyed else b""
    frames = frames_for(Session(key), identities=[b"id"])
    if frames[index % len(frames)] == junk:
        return
    frames[index % len(frames)] = junk
    try:
        msg = Session(key).deserialize(frames)
    except ProtocolError:
        return
    assert isinstance(msg, Message)
    assert not keyed or index % len(frames) == 0  # with a key only the routing frame may change


@pytest.mark.parametrize("part, data, reason", [
    (3, b"[]", "x_request: parent_header is a JSON list, not an object"),
    (4, b"1", "x_request: metadata is a JSON int, not an object"),
    (5, b'{"a": "\xe9"}', "x_request: content is not valid UTF-8 (invalid continuation byte at byte 7)"),
    (5, b"[" * 100000, "x_request: content is nested too deeply to parse"),
])
def test_a_good_header_with_bad_parts_can_be_answered(part, data, reason):
    s = Session(b"key")
    frames = s.serialize("x_request", {}, identities=[b"peer"])
    frames[part + 1] = data
    frames[2] = s.signer.sign(frames[3:7])
    with pytest.raises(MalformedMessage) as e:
        s.deserialize(frames)
    assert str(e.value) == reason
    msg = e.value.message
    assert msg.msg_type == "x_request" and msg.identities == [b"peer"]


class _Stream:
    """Anything with send_multipart, as jupyter_client's Session.send expects of its stream."""

    def __init__(self):
        self.sent: list[list] = []

    def send_multipart(self, frames, *args, **kwargs):
        self.sent.append(list(frames))


def test_send_as_jupyter_client_names_it():
    session, stream = Session(b"k"), _Stream()
    parent = {"header": session.header("execute_request", "sub-1"), "content": {}}
    msg = session.send(stream, "display_data", {"data": {}}, parent=parent, ident=b"topic",
                       buffers=[b"raw"], metadata={"m": 1})
    [frames] = stream.sent
    assert frames[0] == b"topic"
    got = Session(b"k").deserialize(frames)
    assert got.msg_type == "display_data" and got.content == {"data": {}}
    assert got.parent_header == parent["header"]  # a message dict's header is the parent
    assert got.header["subshell_id"] == "sub-1" and got.metadata == {"m": 1}
    assert [bytes(b) for b in got.buffers] == [b"raw"]
    assert msg["msg_id"] == got.msg_id and msg["header"] == got.header
    assert session.session == session.session_id


def test_send_takes_a_whole_message_and_a_bare_parent_header():
    session, stream = Session(b"k"), _Stream()
    parent_header = session.header("execute_request")
    whole = {"header": session.header("stream"), "content": {"name": "stdout", "text": "x"},
             "metadata": {}, "parent_header": parent_header}
    session.send(stream, whole)
    got = Session(b"k").deserialize(stream.sent[0])
    assert got.header == whole["header"] and got.content == whole["content"]
    assert got.parent_header == parent_header
