"""Reading untrusted XML: no DTDs, no entities, no network, bounded size and depth.

The DTD check runs on the raw bytes before any tree exists, which is only sound if the bytes are
in an encoding where ``<!`` looks like ASCII. So the document must be UTF-8/ASCII-compatible
(optionally with a BOM) or UTF-16/32 with a BOM (decoded here for the check), and its declared
encoding must be on an allow-list: EBCDIC, UTF-7 and friends could hide a DOCTYPE from the scan.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from infra.errors import InvalidInput, PayloadTooLarge

# CAP's deepest legitimate nesting is EDXL-DE > … > alert > info > area > geocode > value (9)
# or an XML signature inside an alert (7); 32 leaves room and stops stack-exhaustion tricks.
MAX_DEPTH = 32

_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_ENCODING = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_ASCII_COMPATIBLE = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "latin1", "latin-1", "gb2312", "gbk", "gb18030"}
    | {"big5", "big5-hkscs", "euc-jp", "shift_jis", "euc-kr"}
    | {f"iso-8859-{n}" for n in range(1, 17)}
    | {f"windows-{n}" for n in range(1250, 1259)}
    | {f"cp{n}" for n in range(1250, 1259)}
)
_WIDE_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHUNK = 64 * 1024


def parse_untrusted_xml(
    body: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH
) -> etree._Element:
    """Parse ``body`` into an element tree, or raise ``InvalidInput`` / ``PayloadTooLarge``."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(
            f"the document has {len(body)} bytes; at most {max_bytes} are accepted"
        )
    if not body.strip():
        raise InvalidInput("the body is empty")
    _refuse_declarations(_ascii_view(body))
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )
    depth = 0
    try:
        for start in range(0, len(body), _CHUNK):
            parser.feed(body[start : start + _CHUNK])
            for event, _ in parser.read_events():
                depth += 1 if event == "start" else -1
                if depth > max_depth:
                    raise InvalidInput(f"XML nested deeper than {max_depth} elements")
        root = parser.close()
    except etree.XMLSyntaxError as error:
        raise InvalidInput(f"not well-formed XML: {error}") from None
    except (etree.LxmlError, ValueError, LookupError, UnicodeError) as error:
        raise InvalidInput(f"unreadable XML: {error}") from None
    # Second line of defence: the scan above should make this unreachable.
    docinfo = root.getroottree().docinfo
    doctype: str = getattr(docinfo, "doctype", "")  # absent from lxml-stubs
    if doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise InvalidInput("DTDs and entities are not accepted")
    return root


def _ascii_view(body: bytes) -> bytes:
    """The document as bytes in which markup is ASCII, for the declaration scan."""
    for bom, codec in _WIDE_BOMS:
        if body.startswith(bom):
            try:
                return body[len(bom) :].decode(codec).encode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"the body is not valid {codec}") from None
    view = body.removeprefix(codecs.BOM_UTF8).lstrip()
    if not view.startswith(b"<"):
        raise InvalidInput("not XML: the document must start with '<' (UTF-8 or with a BOM)")
    if b"\x00" in view:
        raise InvalidInput("NUL bytes in the body: send UTF-8, or UTF-16 with a byte order mark")
    declared = _ENCODING.match(view)
    if declared is not None:
        name = declared.group(1).decode("ascii").lower()
        if name not in _ASCII_COMPATIBLE:
            raise InvalidInput(f"the encoding {name!r} is not accepted; send UTF-8")
    return view


def _refuse_declarations(view: bytes) -> None:
    if _DECLARATION.search(view):
        raise InvalidInput("DTDs and entities are not accepted")
