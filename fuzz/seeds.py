#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the tests' own data: the
string literals and byte arrays of the unit and integration tests, the example configurations,
and for LiveKit's protobuf messages the same messages the tests build, encoded with LiveKit's
own Python protocol package (installed by tests/fixtures/livekit/setup.sh).

Run once when a parser's tests gain new cases, then minimise (README, "Fuzzing"):
    python3 fuzz/seeds.py && cargo +nightly fuzz cmin <target>
"""
import hashlib
import json
import os
import re
import struct
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(REPO, "fuzz", "corpus")


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def rust_strings(path):
    """Every string literal in a Rust file ("..." with escapes and line continuations, and
    raw r#"..."# strings), decoded."""
    text = read(path)
    out = []
    for m in re.finditer(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', text, re.S):
        if m.group(2) is not None and m.group(0).startswith("r"):
            out.append(m.group(2))
            continue
        body = m.group(3) or ""
        body = re.sub(r"\\\n\s*", "", body)
        body = re.sub(
            r"\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)",
            lambda e: {
                "n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", '"': '"', "'": "'",
            }.get(e.group(1), chr(int(e.group(1)[2:-1], 16)) if e.group(1).startswith("u{")
                  else chr(int(e.group(1)[1:], 16)) if e.group(1).startswith("x") else e.group(1)),
            body,
        )
        out.append(body)
    return out


def rust_byte_arrays(path):
    """Every `&[0x.., ...]` array literal of hex bytes in a Rust file."""
    out = []
    for m in re.finditer(r"&\[\s*((?:0x[0-9a-fA-F]{2},?\s*(?://[^\n]*\n\s*)?)+)\]", read(path)):
        out.append(bytes(int(b, 16) for b in re.findall(r"0x([0-9a-fA-F]{2})", m.group(1))))
    return out


def write(target, seeds):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    for seed in seeds:
        data = seed.encode() if isinstance(seed, str) else seed
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds")


def config():
    seeds = [read("examples/demo.toml"), read("examples/salle.toml")]
    for path in ["src/config/mod.rs", "src/config/load.rs", "src/config/validate.rs", "tests/cli.rs"]:
        seeds += [s for s in rust_strings(path) if re.search(r"^\s*\[\w+", s, re.M)]
    return seeds


def control_request():
    seeds = [s for s in rust_strings("src/api/request.rs") + rust_strings("tests/cli.rs")
             + rust_strings("src/control/client.rs") if s.startswith("{")]
    for url in ["https://visio.example.org/abc-defg-hij", "livekit+wss://lk.example.org?token=x",
                "whip+https://w.example.org/whip/1", "janus+wss://j.example.org:8989/?room=1234",
                "test://demo?connect_ms=100&fail=no", "javascript:alert(1)", "file:///etc/shadow"]:
        seeds.append(json.dumps({"request": "join", "url": url}))
    seeds += ['{"request":"status"}', '{"request":"leave"}', '{"request":"mute","muted":true}',
              '{"request":"camera","off":false}', '{"request":"press","button":"join","long":true}']
    return seeds


def hid_descriptor():
    return rust_byte_arrays("src/hw/hid/descriptor.rs") + rust_byte_arrays("src/hw/hid/speakerphone.rs")


def icalendar():
    seeds = []
    for path in ["src/calendar/ical.rs", "src/calendar/occurrences.rs", "src/calendar/pick.rs",
                 "src/calendar/mod.rs", "src/calendar/recur.rs", "tests/calendar.rs"]:
        seeds += [s for s in rust_strings(path) if "BEGIN:" in s or "DTSTART" in s]
    return seeds


def rrule():
    seeds = []
    for path in ["src/calendar/recur.rs", "src/calendar/occurrences.rs", "tests/calendar.rs"]:
        for s in rust_strings(path):
            for m in re.finditer(r"^RRULE:(.*)$", s, re.M):
                seeds.append(":20260302T090000\n" + m.group(1).strip())
            if s.startswith("FREQ="):
                seeds.append(";TZID=Europe/Paris:20260302T090000\n" + s)
    return seeds


def caldav_xml():
    return [s for s in rust_strings("src/calendar/fetch.rs") + rust_strings("tests/calendar.rs")
            if "<" in s and "multistatus" in s] + [
            '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            '<d:response><d:href>/a.ics</d:href><d:propstat><d:prop><c:calendar-data>BEGIN:VCALENDAR'
            '&#13;\nEND:VCALENDAR</c:calendar-data></d:prop></d:propstat></d:response></d:multistatus>']


def rtp_depacketize():
    """Frames cut into packets as the senders do: H.264 (single NAL, STAP-A, FU-A), VP8 and VP9
    payload descriptors, Opus; one seed per codec, plus one with a lost and a reordered packet."""
    def packets(codec, items):
        out = bytes([codec])
        for marker, seq, ts, payload in items:
            out += bytes([marker]) + struct.pack(">HI", seq, ts) + bytes([len(payload)]) + payload
        return out
    sps, pps, idr = b"\x67\x42\xc0\x1f\xda", b"\x68\xce\x3c\x80", b"\x65\x88\x84" + bytes(20)
    stap = b"\x78" + struct.pack(">H", len(sps)) + sps + struct.pack(">H", len(pps)) + pps
    fu = [b"\x7c\x85" + bytes(30), b"\x7c\x05" + bytes(30), b"\x7c\x45" + bytes(30)]
    h264 = [(0, 100, 3000, stap)] + [(i == 2, 101 + i, 3000, p) for i, p in enumerate(fu)] + \
           [(1, 104, 6000, b"\x41\x9a" + bytes(10))]
    vp8 = [(0, 7, 90, b"\x10" + b"\x10\x02\x00\x9d\x01\x2a" + bytes(10)), (1, 8, 90, b"\x00" + bytes(10)),
           (1, 9, 3090, b"\x10\x01" + bytes(8))]
    vp9 = [(0, 1, 0, b"\x88\x80\x01" + bytes(12)), (1, 2, 0, b"\x84\x80\x01" + bytes(12)),
           (1, 3, 3000, b"\xcc\x80\x02" + bytes(8))]
    opus = [(1, 5 + i, 960 * i, b"\xfc" + bytes(20)) for i in range(4)]
    lossy = [h264[0], h264[2], h264[1]] + [(0, 300 + i, 9000, b"\x41" + bytes(5)) for i in range(100)]
    return [packets(0, h264), packets(1, vp8), packets(2, vp9), packets(3, opus), packets(0, lossy)]


def livekit():
    from livekit.protocol import models, rtc
    signal = []
    participant = models.ParticipantInfo(
        sid="PA_1", identity="alice", name="Alice", state=models.ParticipantInfo.ACTIVE,
        tracks=[models.TrackInfo(sid="TR_v", type=models.VIDEO, source=models.TrackSource.CAMERA, muted=True),
                models.TrackInfo(sid="TR_s", type=models.VIDEO, source=models.TrackSource.SCREEN_SHARE)])
    signal.append(rtc.SignalResponse(join=rtc.JoinResponse(
        room=models.Room(name="salle", active_recording=True), participant=participant,
        other_participants=[participant], server_version="1.13.5", ping_interval=5, ping_timeout=15,
        ice_servers=[rtc.ICEServer(urls=["turn:127.0.0.1:3478?transport=tcp"], username="u", credential="c")])))
    signal.append(rtc.SignalResponse(update=rtc.ParticipantUpdate(participants=[
        participant, models.ParticipantInfo(sid="PA_1", identity="alice", state=models.ParticipantInfo.DISCONNECTED)])))
    sdp = read("src/signal/sdpfrag.rs")
    offers = [s for s in rust_strings("src/signal/sdpfrag.rs") + rust_strings("src/signal/livekit/mod.rs") if s.startswith("v=0")]
    for s in offers[:2]:
        signal.append(rtc.SignalResponse(offer=rtc.SessionDescription(type="offer", sdp=s)))
        signal.append(rtc.SignalResponse(answer=rtc.SessionDescription(type="answer", sdp=s)))
    signal.append(rtc.SignalResponse(trickle=rtc.TrickleRequest(
        candidateInit='{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host","sdpMid":"0"}', target=rtc.SUBSCRIBER)))
    signal.append(rtc.SignalResponse(leave=rtc.LeaveRequest(action=rtc.LeaveRequest.DISCONNECT, reason=models.PARTICIPANT_REMOVED)))
    signal.append(rtc.SignalResponse(leave=rtc.LeaveRequest(action=rtc.LeaveRequest.RESUME, can_reconnect=True)))
    signal.append(rtc.SignalResponse(request_response=rtc.RequestResponse(
        reason=rtc.RequestResponse.NOT_ALLOWED, add_track=rtc.AddTrackRequest(cid="camera", source=models.TrackSource.CAMERA))))
    signal.append(rtc.SignalResponse(speakers_changed=rtc.SpeakersChanged(speakers=[models.SpeakerInfo(sid="PA_1", active=True, level=0.5)])))
    signal.append(rtc.SignalResponse(refresh_token="eyJ.x.y"))
    signal.append(rtc.SignalResponse(mute=rtc.MuteTrackRequest(sid="TR_mic", muted=True)))
    del sdp
    def framed(packets):
        return b"".join(struct.pack(">H", len(p)) + p for p in packets)
    tx = lambda seg, text, final: models.DataPacket(participant_identity="agent", transcription=models.Transcription(
        transcribed_participant_identity="alice", track_id="TR_mic",
        segments=[models.TranscriptionSegment(id=seg, text=text, final=final)])).SerializeToString()
    header = models.DataPacket(participant_identity="alice", stream_header=models.DataStream.Header(
        stream_id="S1", topic="lk.transcription", attributes={"lk.segment_id": "SG1", "lk.transcription_final": "false"})).SerializeToString()
    chunk = models.DataPacket(stream_chunk=models.DataStream.Chunk(stream_id="S1", content=b"bonjour")).SerializeToString()
    trailer = models.DataPacket(stream_trailer=models.DataStream.Trailer(stream_id="S1", attributes={"lk.transcription_final": "true"})).SerializeToString()
    user = models.DataPacket(participant_identity="bob", user=models.UserPacket(payload=b'{"type":"raise-hand"}')).SerializeToString()
    data = [framed([header, chunk, chunk, trailer]), framed([tx("a", "hello", False), tx("a", "hello all", True), header, chunk]),
            framed([user]), framed([models.DataPacket(user=models.UserPacket(payload=b"not json")).SerializeToString()])]
    return [m.SerializeToString() for m in signal], data


def janus_json():
    seeds = [s for s in rust_strings("src/signal/janus.rs") + rust_strings("src/signal/janus_api.rs") if s.startswith("{")]
    seeds += [
        '{"janus":"event","session_id":1,"sender":2,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","room":1234,"id":5,"publishers":[{"id":42,"display":"Alice","streams":[{"type":"video","mid":"0","codec":"h264"}]},{"id":43}]}},"jsep":{"type":"answer","sdp":"v=0\\r\\n"}}',
        '{"janus":"event","plugindata":{"data":{"videoroom":"event","unpublished":42}}}',
        '{"janus":"event","plugindata":{"data":{"videoroom":"event","leaving":7}}}',
        '{"janus":"hangup","session_id":1,"sender":2,"reason":"ICE failed"}',
        '{"janus":"timeout","session_id":1}',
        '{"janus":"webrtcup","session_id":1,"sender":2}',
        '{"janus":"media","type":"video","receiving":true}',
    ]
    return seeds


def sdp():
    offers = [s for s in rust_strings("src/signal/sdpfrag.rs") + rust_strings("src/signal/livekit/mod.rs")
              + rust_strings("tests/rtc_bad_input.rs") if s.startswith("v=0") or s.startswith("a=ice")]
    descriptions = [s for s in offers if s.startswith("v=0")]
    fragments = [s for s in offers if s.startswith("a=ice")]
    return offers + [d + "\0" + f for d in descriptions[:3] for f in fragments[:3]]


def main():
    write("config", config())
    write("control_request", control_request())
    write("hid_descriptor", hid_descriptor())
    write("icalendar", icalendar())
    write("rrule", rrule())
    write("caldav_xml", caldav_xml())
    write("rtp_depacketize", rtp_depacketize())
    write("janus_json", janus_json())
    write("sdp", sdp())
    try:
        signal, data = livekit()
    except ImportError as e:
        sys.exit(f"LiveKit's Python protocol package is missing ({e}): tests/fixtures/livekit/setup.sh installs it")
    write("livekit_signal", signal)
    write("livekit_data", data)


if __name__ == "__main__":
    main()
