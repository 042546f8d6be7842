"""VietQR payloads, memos, codes in bank descriptions, QR images and the bank list.

The payload is checked with a parser and a CRC written here from the EMVCo MPM rules (2-digit ID, 2-digit length,
value; templates nest; CRC-16/CCITT-FALSE over everything up to ``"6304"``), not with the module's own helpers.
No database, no network.
"""

import csv
import struct
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from src.booking import codes
from src.payments import vietqr

# --- An independent EMVCo MPM reader -----------------------------------------------------------------------------

#: Templates whose value is itself a list of data objects (MPM: 26-51 merchant account information, 62 additional
#: data; inside 38 of VietQR, 01 is the beneficiary organisation).
TEMPLATES = {"38", "62"}
NESTED_TEMPLATES = {("38", "01")}


def parse_tlv(text: str, parent: str | None = None) -> dict[str, object]:
    """``{id: value}`` of a string of data objects; template values parsed recursively. Fails on malformed input
    and on a repeated ID."""
    objects: dict[str, object] = {}
    i = 0
    while i < len(text):
        assert i + 4 <= len(text), f"truncated object header at {i} in {text!r}"
        tag, length = text[i : i + 2], text[i + 2 : i + 4]
        assert tag.isdigit(), f"bad ID {tag!r}"
        assert length.isdigit(), f"bad length {length!r}"
        size = int(length)
        assert 1 <= size <= 99
        value = text[i + 4 : i + 4 + size]
        assert len(value) == size, f"object {tag} claims {size} characters, has {len(value)}"
        assert tag not in objects, f"object {tag} repeated"
        nested = (parent is None and tag in TEMPLATES) or (parent, tag) in NESTED_TEMPLATES
        objects[tag] = parse_tlv(value, tag) if nested else value
        i += 4 + size
    return objects


def crc_bitwise(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, one bit at a time over the message as one long bit string (MSB first)."""
    register = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            incoming = (byte >> bit) & 1
            top = (register >> 15) & 1
            register = (register << 1) & 0xFFFF
            if top ^ incoming:
                register ^= 0x1021
    return register


def crc_ok(payload: str) -> bool:
    assert payload[-8:-4] == "6304", "the CRC must be the last object"
    return f"{crc_bitwise(payload[:-4].encode('ascii')):04X}" == payload[-4:]


# --- CRC and TLV -------------------------------------------------------------------------------------------------


def test_crc_known_vectors() -> None:
    assert crc_bitwise(b"123456789") == 0x29B1  # the CRC-16/CCITT-FALSE check value
    assert vietqr.crc16_ccitt(b"123456789") == 0x29B1
    assert vietqr.crc16_ccitt(b"") == 0xFFFF
    assert vietqr.crc_hex(b"123456789") == "29B1"
    for sample in (b"A", b"6304", b"00020101021238", bytes(range(128))):
        assert vietqr.crc16_ccitt(sample) == crc_bitwise(sample)


def test_crc_hex_is_four_upper_case_digits() -> None:
    value = vietqr.crc_hex(b"0002010102116304")
    assert len(value) == 4
    assert value == value.upper()
    assert int(value, 16) == crc_bitwise(b"0002010102116304")


def test_tlv() -> None:
    assert vietqr.tlv("53", "704") == "5303704"
    assert vietqr.tlv("62", "0811Chuyen tien") == "62150811Chuyen tien"
    assert vietqr.tlv("01", "x" * 99) == "0199" + "x" * 99


@pytest.mark.parametrize(
    ("tag", "value"),
    [("01", "x" * 100), ("1", "a"), ("001", "a"), ("ab", "a"), ("01", ""), ("08", "Phòng")],
)
def test_tlv_refuses(tag: str, value: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        vietqr.tlv(tag, value)


# --- Payload -----------------------------------------------------------------------------------------------------


def test_payload_parses_back_with_every_field() -> None:
    text = vietqr.payload(bank_bin="970436", account_number="0011004455667", amount=1_850_000, memo="LC7K2P9Q")
    assert text.isascii()
    assert crc_ok(text)
    fields = parse_tlv(text)
    assert list(fields) == ["00", "01", "38", "53", "54", "58", "62", "63"]
    assert fields["00"] == "01"
    assert fields["01"] == "12"
    assert fields["38"] == {
        "00": "A000000727",
        "01": {"00": "970436", "01": "0011004455667"},
        "02": "QRIBFTTA",
    }
    assert fields["53"] == "704"
    assert fields["54"] == "1850000"
    assert fields["58"] == "VN"
    assert fields["62"] == {"08": "LC7K2P9Q"}
    assert fields["63"] == text[-4:]


def test_payload_reproduces_a_published_vietqr_example() -> None:
    # The dynamic VietQR example of the MIT-licensed xuannghia/vietnam-qr-pay README (ACB account 257678859,
    # 10,000 VND, "Chuyen tien"), whose CRC 53E6 its author published with it.
    published = (
        "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA"
        "53037045405100005802VN62150811Chuyen tien630453E6"
    )
    assert crc_ok(published)
    assert vietqr.payload(bank_bin="970416", account_number="257678859", amount=10_000, memo="Chuyen tien") == published


def test_payload_changes_its_crc_with_any_field() -> None:
    base = {"bank_bin": "970436", "account_number": "0011004455667", "amount": 1_850_000, "memo": "LC7K2P9Q"}
    one = vietqr.payload(**base)  # type: ignore[arg-type]
    other = vietqr.payload(**{**base, "amount": 1_850_001})  # type: ignore[arg-type]
    assert crc_ok(one)
    assert crc_ok(other)
    assert one[-4:] != other[-4:]
    tampered = one.replace("1850000", "1850009")
    assert not crc_ok(tampered)


@pytest.mark.parametrize(
    ("amount", "text"),
    [(1, "54011"), (vietqr.MAX_AMOUNT, "54139999999999999")],
)
def test_payload_amount_limits(amount: int, text: str) -> None:
    result = vietqr.payload(bank_bin="970415", account_number="A1", amount=amount, memo="LC7K2P9Q")
    assert text in result
    assert crc_ok(result)


def test_payload_long_fields() -> None:
    result = vietqr.payload(bank_bin="970422", account_number="1" * 19, amount=5, memo="A" * 25)
    fields = parse_tlv(result)
    assert fields["38"] == {"00": "A000000727", "01": {"00": "970422", "01": "1" * 19}, "02": "QRIBFTTA"}
    assert fields["62"] == {"08": "A" * 25}
    assert crc_ok(result)


GOOD = {"bank_bin": "970436", "account_number": "0011004455667", "amount": 1_850_000, "memo": "LC7K2P9Q"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bank_bin", "97043", "bank_bin"),
        ("bank_bin", "9704366", "bank_bin"),
        ("bank_bin", "97043A", "bank_bin"),
        ("bank_bin", "", "bank_bin"),
        ("account_number", "", "account_number"),
        ("account_number", "1" * 20, "account_number"),
        ("account_number", "0011-0044", "account_number"),
        ("account_number", "0011 0044", "account_number"),
        ("account_number", "００１１", "account_number"),
        ("amount", 0, "amount"),
        ("amount", -5, "amount"),
        ("amount", vietqr.MAX_AMOUNT + 1, "amount"),
        ("amount", 1850000.0, "amount"),
        ("amount", "1850000", "amount"),
        ("amount", True, "amount"),
        ("memo", "", "memo"),
        ("memo", "A" * 26, "memo"),
        ("memo", "Đặt phòng", "memo"),
        ("memo", "LC7K2P9Q.", "memo"),
        ("memo", "LC7K2P9Q\n", "memo"),
    ],
)
def test_payload_refuses_bad_input(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vietqr.payload(**{**GOOD, field: value})  # type: ignore[arg-type]


# --- Memo and codes in descriptions ------------------------------------------------------------------------------


def test_memo_for() -> None:
    assert vietqr.memo_for("LC7K2P9Q") == "LC7K2P9Q"
    assert vietqr.memo_for("lc 7k2p-9q") == "LC7K2P9Q"
    for _ in range(20):
        code = codes.new_code()
        memo = vietqr.memo_for(code)
        assert memo == code
        assert memo.isalnum()
        assert memo.isupper()
        assert len(memo) <= vietqr.MAX_MEMO_LENGTH
        assert vietqr.codes_in(f"MBVCB.123.{memo}.chuyen tien") == [code]
    with pytest.raises(ValueError, match="not a reservation code"):
        vietqr.memo_for("chuyen tien")


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        # the memo as sent, and what banks do to it
        ("LC7K2P9Q", ["LC7K2P9Q"]),
        ("lc7k2p9q", ["LC7K2P9Q"]),
        ("Lc7K2p9Q", ["LC7K2P9Q"]),
        ("LC7K2P9Q chuyen tien phong", ["LC7K2P9Q"]),
        ("LC 7K2 P9Q", ["LC7K2P9Q"]),
        ("lc 7k2 p9q chuyen tien", ["LC7K2P9Q"]),
        ("LC-7K2P-9Q", ["LC7K2P9Q"]),
        ("lc.7k2.p9q", ["LC7K2P9Q"]),
        ("L C 7 K 2 P 9 Q", ["LC7K2P9Q"]),
        ("MBVCB.3456789.LC7K2P9Q.chuyen tien phong", ["LC7K2P9Q"]),
        ("IBFT LC7K2P9Q", ["LC7K2P9Q"]),
        ("NHAN TU 0011 TRACE 123 ND LC7K2P9Q", ["LC7K2P9Q"]),
        ("TKThe :0011004455667, tai VCB. LC7K2P9Q -CTLNHIDI000001234567", ["LC7K2P9Q"]),
        ("CT DEN:612345678901 LC7K2P9Q thanh toan", ["LC7K2P9Q"]),
        ("NGUYEN VAN A chuyen tien LC7K2P9Q FT26358123456", ["LC7K2P9Q"]),
        ("LC7K2P9Qchuyentienphong", ["LC7K2P9Q"]),
        ("3456789LC7K2P9Q", ["LC7K2P9Q"]),
        ("IBFTLC7K2P9Q", ["LC7K2P9Q"]),
        ("ND:LC/7K2P9Q", ["LC7K2P9Q"]),
        ("Đặt phòng lc7k2p9q cảm ơn", ["LC7K2P9Q"]),
        ("ＬＣ７Ｋ２Ｐ９Ｑ", ["LC7K2P9Q"]),
        # Crockford look-alikes
        ("LC7K2P9O", ["LC7K2P90"]),
        ("LCO0I1L1", ["LC001111"]),
        ("lc7k2p9o", ["LC7K2P90"]),
        # two codes, repeats
        ("LC7K2P9Q LC3M4N5P", ["LC7K2P9Q", "LC3M4N5P"]),
        ("tt LC3M4N5P va LC7K2P9Q", ["LC3M4N5P", "LC7K2P9Q"]),
        ("LC7K2P9Q LC7K2P9Q lc 7k2 p9q", ["LC7K2P9Q"]),
        # none
        ("", []),
        ("chuyen tien phong", []),
        ("NHAN TU 0011 TRACE 123 ND thanh toan", []),
        ("LC7K2P", []),
        ("LCU7K2P9", []),
        ("HOSTEL CK18500", []),
        ("LC", []),
        ("PHONG LC", []),
    ],
)
def test_codes_in(description: str, expected: list[str]) -> None:
    assert vietqr.codes_in(description) == expected


def test_codes_in_returns_only_valid_canonical_codes() -> None:
    for description in ("LC7K2P9Q", "xx lc 1234 56 yy", "LCABCDEFGH LC0000000"):
        for code in vietqr.codes_in(description):
            assert codes.normalise(code) == code


def test_codes_in_known_false_positive_is_only_a_candidate() -> None:
    # "LC" followed by six characters of the alphabet reads as a code: callers still need the reservation to exist
    # and the amount to match exactly (see the docstring).
    assert vietqr.codes_in("LC 1850000") == ["LC185000"]


# --- QR images ---------------------------------------------------------------------------------------------------

PAYLOAD = vietqr.payload(bank_bin="970436", account_number="0011004455667", amount=1_850_000, memo="LC7K2P9Q")


def test_qr_png() -> None:
    image = vietqr.qr_png(PAYLOAD)
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert image[12:16] == b"IHDR"
    width, height = struct.unpack(">II", image[16:24])
    assert width == height
    assert width >= 300
    assert image == vietqr.qr_png(PAYLOAD)
    assert image != vietqr.qr_png(PAYLOAD.replace("LC7K2P9Q", "LC3M4N5P"))


def test_qr_svg() -> None:
    image = vietqr.qr_svg(PAYLOAD)
    assert image.lstrip().startswith(b"<svg")
    root = ET.fromstring(image)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert int(root.attrib["width"]) >= 300
    assert root.attrib["width"] == root.attrib["height"]
    assert image == vietqr.qr_svg(PAYLOAD)
    assert image != vietqr.qr_svg(PAYLOAD.replace("LC7K2P9Q", "LC3M4N5P"))


# --- Bank list ---------------------------------------------------------------------------------------------------


def test_bank_list_file() -> None:
    with vietqr.BANKS_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert {"bin", "short_name", "name", "swift_code"} <= set(rows[0])
    counts = Counter(row["bin"] for row in rows)
    assert [b for b, n in counts.items() if n > 1] == []
    for row in rows:
        assert len(row["bin"]) == 6, row
        assert row["bin"].isdigit(), row
        assert row["short_name"].strip() == row["short_name"] != "", row
        assert row["name"].strip() == row["name"] != "", row
        assert row["swift_code"] == "" or (len(row["swift_code"]) in (8, 11) and row["swift_code"].isalnum()), row


def test_banks_loader() -> None:
    everything = vietqr.banks()
    assert everything is vietqr.banks()  # cached
    vcb = vietqr.bank("970436")
    assert vcb is not None
    assert vcb.short_name == "Vietcombank"
    assert vcb.swift_code == "BFTVVNVX"
    for bin_, short_name in [("970415", "VietinBank"), ("970418", "BIDV"), ("970405", "Agribank")]:
        found = vietqr.bank(bin_)
        assert found is not None
        assert found.short_name == short_name
    assert vietqr.bank("000000") is None
    assert all(key == entry.bin for key, entry in everything.items())


def test_banks_loader_refuses_duplicate_bins(tmp_path: Path) -> None:
    path = tmp_path / "banks.csv"
    path.write_text("bin,short_name,name,swift_code\n970436,A,A,\n970436,B,B,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        vietqr._load_banks(path)
