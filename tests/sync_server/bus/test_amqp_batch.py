"""The AMQP frames the RabbitMQ publisher writes itself, decoded by pamqp (aiormq's codec)."""

from __future__ import annotations

from pamqp import commands, frame
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from sync_server.bus.amqp_batch import Publish, encode_publish


def decode_all(raw: bytes) -> list[tuple[int, object]]:
    frames: list[tuple[int, object]] = []
    while raw:
        consumed, channel, decoded = frame.unmarshal(raw)
        frames.append((channel, decoded))
        raw = raw[consumed:]
    return frames


def test_publish_frames_decode_to_the_message_with_its_properties() -> None:
    message = Publish(
        routing_key="incident.opened",
        body=b'{"id": "x"}',
        headers={"byre-event-id": "0198-ab", "byre-farm-id": "farm-ä"},
        message_id="0198-ab",
        message_type="incident.opened",
    )
    raw = encode_publish(
        3,
        "byre.events",
        message,
        content_type="application/json",
        app_id="byre-central",
        frame_max=131_072,
    )

    (c1, method), (c2, header), (c3, body) = decode_all(raw)
    assert (c1, c2, c3) == (3, 3, 3)
    assert isinstance(method, commands.Basic.Publish)
    assert (method.exchange, method.routing_key) == ("byre.events", "incident.opened")
    assert not method.mandatory
    assert not method.immediate
    assert isinstance(header, ContentHeader)
    assert header.body_size == len(message.body)
    p = header.properties
    assert p.content_type == "application/json"
    assert p.delivery_mode == 2
    assert p.message_id == "0198-ab"
    assert p.message_type == "incident.opened"
    assert p.app_id == "byre-central"
    assert p.headers is not None
    assert {k: (v.decode() if isinstance(v, bytes) else v) for k, v in p.headers.items()} == {
        "byre-event-id": "0198-ab",
        "byre-farm-id": "farm-ä",
    }
    assert isinstance(body, ContentBody)
    assert body.value == message.body


def test_a_body_over_the_frame_size_is_split_into_body_frames() -> None:
    body = bytes(range(256)) * 10
    message = Publish("telemetry.system", body, {}, "m-1", "telemetry.system")
    raw = encode_publish(
        1, "x", message, content_type="application/json", app_id="a", frame_max=1000
    )

    decoded = decode_all(raw)
    bodies = [f for _, f in decoded[2:]]
    assert len(bodies) == 3  # 992 bytes per body frame
    assert all(isinstance(b, ContentBody) for b in bodies)
    assert b"".join(b.value for b in bodies if isinstance(b, ContentBody)) == body
