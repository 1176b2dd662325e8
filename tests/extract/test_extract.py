"""The extract stage on its own: decoders, extractors, limits, origin chains (fixtures built here)."""

from __future__ import annotations

import base64
import binascii
import bz2
import gzip
import io
import lzma
import py_compile
import sqlite3
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from leakscan.extract import Extractor, Layer, Limits, Skip, describe
from leakscan.extract.decode import decode_base64
from leakscan.synthetic import TokenGenerator

KEYWORDS = [(b"sqco_", False), (b"squ_", False), (b"sqp_", False), (b"sqa_", False), (b"sonar", True)]


def walk(data: bytes, *, text: bool = True, limits: Limits | None = None) -> list[Layer | Skip]:
    return list(Extractor(KEYWORDS, limits).walk(Layer((), data, text)))


def found_in(items: list[Layer | Skip], needle: str) -> list[str]:
    """The chains (as paths under ``in``) of the layers that hold ``needle``."""
    return [
        describe("in", item.steps)
        for item in items
        if isinstance(item, Layer) and needle.encode() in item.data
    ]


def skips(items: list[Layer | Skip]) -> list[tuple[str, str]]:
    return [(describe("in", item.steps), item.reason) for item in items if isinstance(item, Skip)]


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- decoders ---------------------------------------------------------------------------------


def test_kubernetes_secret_data_value(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    value = base64.b64encode(f"SONAR_TOKEN={token}\n".encode()).decode()
    secret = f"apiVersion: v1\nkind: Secret\ndata:\n  env: {value}\n  other: c2hvcnQ=\n"
    items = walk(secret.encode())
    assert found_in(items, token) == ["in (base64)"]
    layer = next(i for i in items if isinstance(i, Layer))
    start = secret.index(value)
    assert (layer.steps[0].start, layer.steps[0].end) == (start, start + len(value))
    assert layer.outer_offset(5) == (0, start)


@pytest.mark.parametrize("side", ["user", "password"])
def test_basic_auth_either_side(tokens: TokenGenerator, side: str) -> None:
    token = tokens.server("u")
    pair = f"{token}:" if side == "user" else f"ci-bot:{token}"
    header = f"GET / HTTP/1.1\r\nAuthorization: Basic {base64.b64encode(pair.encode()).decode()}\r\n\r\n"
    items = walk(header.encode())
    assert found_in(items, token) == ["in (base64)"]
    assert [i.data for i in items if isinstance(i, Layer)] == [pair.encode()]


@pytest.mark.parametrize("urlsafe", [False, True], ids=["standard", "url-safe"])
@pytest.mark.parametrize("padded", [False, True], ids=["unpadded", "padded"])
def test_base64_alphabets_and_padding(tokens: TokenGenerator, urlsafe: bool, padded: bool) -> None:
    token = tokens.sqco()
    # bytes >= 0xF8 make '+'/'/' (or '-'/'_') appear in the encoding
    raw = f'{{"t": "{token}", "pad": "\u00ff\u00fe\u00fb"}}x'.encode()
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw)
    if not padded:
        encoded = encoded.rstrip(b"=")
    assert (b"-" in encoded or b"_" in encoded) == urlsafe
    items = walk(b'{"blob": "' + encoded + b'"}')
    assert found_in(items, token) == ["in (base64)"]


def test_wrapped_base64_block(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    body = ("# settings\n" * 8 + f"sonar.token={token}\n").encode()
    wrapped = base64.encodebytes(body).decode()  # 76-column lines
    assert wrapped.count("\n") > 2
    text = "config: |\n" + "".join(f"  {line}\n" for line in wrapped.splitlines())
    assert found_in(walk(text.encode()), token) == ["in (base64)"]


def test_sha512_integrity_values_are_not_decoded_as_text() -> None:
    digest = base64.b64encode(bytes(range(200, 255)) + bytes(range(9))).decode()
    lock = f'{{"integrity": "sha512-{digest}", "resolved": "https://registry.example/x.tgz"}}'
    assert [i for i in walk(lock.encode()) if isinstance(i, Layer)] == []


def test_percent_encoded_whole_token_and_query_value(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    whole = "".join(f"%{b:02X}" for b in token.encode())
    assert found_in(walk(f"curl 'https://h/api?token={whole}'".encode()), token) == ["in (percent-encoding)"]
    partial = token.replace("_", "%5F")
    assert found_in(walk(f"url=https://h/?t={partial}&x=1".encode()), token) == ["in (percent-encoding)"]


def test_quoted_printable_with_soft_breaks(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    mail = (
        "Content-Transfer-Encoding: quoted-printable\n\n"
        + binascii.b2a_qp(f"Your token: sonar.token={token} please keep it safe, thanks!".encode()).decode()
    )
    assert "=\n" in mail and "=3D" in mail
    assert found_in(walk(mail.encode()), token) == ["in (quoted-printable)"]


def test_base64_padding_at_line_end_is_not_a_soft_break(tokens: TokenGenerator) -> None:
    value = base64.b64encode(b"hello world, this is text!").decode()
    assert value.endswith("=") and not value.endswith("==")
    items = walk(f"data:\n  a: {value}\n  b: plain\n".encode())
    assert [describe("in", i.steps) for i in items if isinstance(i, Layer)] == []


@pytest.mark.parametrize("form", ["decimal", "hex", "named"])
def test_html_entities(tokens: TokenGenerator, form: str) -> None:
    token = tokens.sqco()
    if form == "decimal":
        encoded = "".join(f"&#{b};" for b in token.encode())
    elif form == "hex":
        encoded = "".join(f"&#x{b:x};" for b in token.encode())
    else:
        encoded = token.replace("_", "&lowbar;")
    page = f"<input type='hidden' value='{encoded}'>"
    assert found_in(walk(page.encode()), token) == ["in (html-entities)"]


def test_json_unicode_escapes(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    escaped = "".join(f"\\u{b:04x}" for b in token.encode())
    assert found_in(walk(f'{{"token": "{escaped}"}}'.encode()), token) == ["in (unicode-escapes)"]
    partial = token.replace("_", "\\u005F")
    assert found_in(walk(f'var t = "{partial}";'.encode()), token) == ["in (unicode-escapes)"]


def test_nested_base64_to_depth_and_too_deep(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    value = token.encode()
    for _ in range(3):
        value = base64.b64encode(value)
    items = walk(b"x: " + value)
    assert found_in(items, token) == ["in (base64) (base64) (base64)"]
    deeper = make_zip(
        {"a.zip": make_zip({"b.zip": make_zip({"c.yaml": b"x: " + base64.b64encode(token.encode())})})}
    )
    items = walk(deeper, text=False)
    assert found_in(items, token) == []
    assert skips(items) == [("in!a.zip!b.zip!c.yaml (base64)", "encoding too deep (max depth 3)")]


def test_depth_zero_turns_everything_off(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    limits = Limits(depth=0)
    assert walk(b"x: " + base64.b64encode(token.encode()), limits=limits) == []
    assert walk(make_zip({"a": token.encode()}), text=False, limits=limits) == []
    assert Extractor(KEYWORDS, limits).triggers == {}


def test_decode_base64_rejects_non_base64() -> None:
    assert decode_base64(b"abcde") is None
    assert decode_base64(b"c3Fjb18") == b"sqco_"
    assert decode_base64(b"c3Fjb18=") == b"sqco_"


# --- extractors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compress", "kind"),
    [(gzip.compress, "gzip"), (bz2.compress, "bzip2"), (lzma.compress, "xz")],
    ids=["gzip", "bzip2", "xz"],
)
def test_compressed_env_backup(tokens: TokenGenerator, compress: object, kind: str) -> None:
    token = tokens.sqco()
    data = compress(f"SONAR_TOKEN={token}\n".encode())  # type: ignore[operator]
    assert found_in(walk(data, text=False), token) == [f"in ({kind})"]


def test_concatenated_gzip_members(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    data = gzip.compress(b"first part\n") + gzip.compress(f"t={token}\n".encode())
    items = walk(data, text=False)
    assert found_in(items, token) == ["in (gzip)"]
    assert next(i for i in items if isinstance(i, Layer)).data == f"first part\nt={token}\n".encode()


@pytest.mark.parametrize(
    "name",
    [
        "bundle.zip",
        "app.jar",
        "app.war",
        "app.ear",
        "pkg.whl",
        "app.apk",
        "lib.aar",
        "pkg.nupkg",
        "doc.docx",
        "sheet.xlsx",
        "deck.pptx",
        "text.odt",
        "no-extension",
    ],
)
def test_zip_family_by_content(tokens: TokenGenerator, name: str) -> None:
    token = tokens.sqco()
    data = make_zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
            "conf/app.properties": f"sonar.token={token}".encode(),
        }
    )
    assert found_in(walk(data, text=False), token) == ["in!conf/app.properties"]


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"], ids=["tar", "tgz", "tbz2", "txz"])
def test_tar_variants_show_members(tokens: TokenGenerator, mode: str) -> None:
    token = tokens.sqco()
    data = make_tar({"etc/": b"", "etc/app.env": f"SONAR_TOKEN={token}".encode()}, mode)
    assert found_in(walk(data, text=False), token) == ["in!etc/app.env"]


def test_nested_archives_and_encoded_member(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    inner = make_zip({"k8s/secret.yaml": b"data:\n  t: " + base64.b64encode(f"sonar.token={token}".encode())})
    outer = make_tar({"release/inner.zip": inner}, "w:gz")
    assert found_in(walk(outer, text=False), token) == ["in!release/inner.zip!k8s/secret.yaml (base64)"]


def test_archive_too_deep_is_a_named_skip(tokens: TokenGenerator) -> None:
    data = f"t={tokens.sqco()}".encode()
    for level in range(4):
        data = make_zip({f"level{level}.zip" if level else "t.env": data})
    items = walk(data, text=False)
    assert skips(items) == [("in!level3.zip!level2.zip!level1.zip", "archive too deep (max depth 3)")]


def test_strings_of_binary_files(tokens: TokenGenerator, tmp_path: Path) -> None:
    token = tokens.sqco()
    source = tmp_path / "settings.py"
    source.write_text(f'SONAR = "{token}"\n')
    compiled = Path(py_compile.compile(str(source), cfile=str(tmp_path / "settings.pyc")))
    assert found_in(walk(compiled.read_bytes(), text=False), token) == ["in (strings)"]
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("create table settings (key text, value text)")
        connection.execute("insert into settings values ('sonar', ?)", (token,))
    connection.close()
    assert found_in(walk(database.read_bytes(), text=False), token) == ["in (strings)"]
    elf = b"\x7fELF\x02\x01\x01" + bytes(40) + token.encode("utf-16-le") + bytes(8)
    items = walk(elf, text=False)
    assert found_in(items, token) == ["in (strings)"]
    layer = next(i for i in items if isinstance(i, Layer))
    assert layer.text is False
    assert layer.parent_offset(layer.data.index(token.encode())) == 47


def test_member_names_are_only_names(
    tokens: TokenGenerator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tokens.sqco()
    monkeypatch.chdir(tmp_path)
    data = make_zip({"../../escape.env": f"t={token}".encode(), "/abs/path.env": b"x"})
    assert found_in(walk(data, text=False), token) == ["in!../../escape.env"]
    tar = make_tar({"../../escape.env": f"t={token}".encode()})
    assert found_in(walk(tar, text=False), token) == ["in!../../escape.env"]
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent.parent / "escape.env").exists()


# --- limits and damage --------------------------------------------------------------------------


def test_zip_bomb_declared_ratio() -> None:
    data = make_zip({"zeros.bin": bytes(64 << 20), "ok.txt": b"fine"})
    assert len(data) < 200_000
    items = walk(data, text=False)
    assert skips(items) == [("in!zeros.bin", "compression ratio over 100 (zip bomb?)")]
    assert [i.data for i in items if isinstance(i, Layer)] == [b"fine"]


def test_zip_bomb_with_lying_sizes_is_stopped_while_inflating() -> None:
    data = bytearray(make_zip({"zeros.bin": bytes(32 << 20)}))
    # claim a small uncompressed size in the central directory, as a hostile archive would
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)
    items = walk(bytes(data), text=False)
    assert len(skips(items)) == 1
    assert skips(items)[0][0] == "in!zeros.bin"


def test_gzip_bomb_and_decompression_limit() -> None:
    assert skips(walk(gzip.compress(bytes(32 << 20)), text=False)) == [
        ("in (gzip)", "compression ratio over 100 (zip bomb?)")
    ]
    text = "".join(f"line {n}\n" for n in range(300_000)).encode()
    limits = Limits(max_bytes=1 << 20)
    assert skips(walk(gzip.compress(text), text=False, limits=limits)) == [
        ("in (gzip)", f"decompression limit ({1 << 20} bytes per input)")
    ]


def test_member_limit() -> None:
    data = make_zip({f"f{n}.txt": b"x" for n in range(5)})
    items = walk(data, text=False, limits=Limits(max_members=3))
    assert len([i for i in items if isinstance(i, Layer)]) == 3
    assert skips(items) == [("in", "member limit (3 members per input): 2 of 5 not opened")]


def test_truncated_and_corrupt_archives_are_skips(tokens: TokenGenerator) -> None:
    text = f"t={tokens.sqco()}\n".encode() * 2000
    truncated_gz = gzip.compress(text)[:-200]
    assert skips(walk(truncated_gz, text=False)) == [("in (gzip)", "truncated gzip stream")]
    zipped = make_zip({"a.txt": text})
    assert skips(walk(zipped[: len(zipped) // 2], text=False))[0][1].startswith("corrupt archive (zip):")
    bad_crc = bytearray(make_zip({"a.txt": b"hello world" * 10}, zipfile.ZIP_STORED))
    bad_crc[bad_crc.index(b"hello") + 3] ^= 0xFF
    assert skips(walk(bytes(bad_crc), text=False)) == [
        ("in!a.txt", "corrupt archive member (zip): Bad CRC-32 for file 'a.txt'")
    ]
    tar = make_tar({"a.env": text, "b.env": text})
    reasons = skips(walk(tar[:9000], text=False))
    assert len(reasons) == 1 and reasons[0][0] == "in" and "archive (tar)" in reasons[0][1]


def test_encrypted_zip_member_is_a_skip() -> None:
    data = bytearray(make_zip({"secret.txt": b"hidden", "open.txt": b"visible"}, zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)  # the first member's local and central headers
        data[at + offset] |= 0x1
    items = walk(bytes(data), text=False)
    assert skips(items) == [("in!secret.txt", "encrypted archive member")]
    assert [i.data for i in items if isinstance(i, Layer)] == [b"visible"]


def test_unsupported_archive_is_named() -> None:
    assert skips(walk(b"7z\xbc\xaf\x27\x1c" + bytes(100), text=False)) == [("in", "unsupported archive (7z)")]


def test_decompression_limit_inside_a_tgz() -> None:
    text = "".join(f"line {n}\n" for n in range(300_000)).encode()
    items = walk(make_tar({"big.log": text}, "w:gz"), text=False, limits=Limits(max_bytes=1 << 20))
    assert skips(items) == [("in (gzip)", f"decompression limit ({1 << 20} bytes per input)")]
