"""VietQR bank transfers: the EMVCo merchant-presented QR payload a guest's banking app scans, the QR images, the
transfer memo, and reading reservation codes back out of a bank transaction's description.

References:

* **EMVCo**, *EMV® QR Code Specification for Payment Systems (EMV QRCPS), Merchant-Presented Mode*, v1.1 (2017),
  cited as "MPM": §3 Data organisation (every data object is a 2-digit ID, a 2-digit length ``01``–``99`` and the
  value; templates nest objects the same way), §4 Data object definitions (the IDs below), and the CRC object
  (ID ``63``: CRC-16 per ISO/IEC 13239, polynomial ``0x1021``, initial value ``0xFFFF``, computed over the whole
  payload up to and including ``"6304"``, written as 4 upper-case hex characters).
* **NAPAS**, *VietQR* (QR specification for NAPAS 247 fast transfers): Merchant Account Information in ID ``38``
  with GUID ``A000000727``, a Beneficiary Organisation template (``00`` acquirer/bank BIN, 6 digits; ``01`` the
  beneficiary's account or card number) and a service code (``QRIBFTTA`` transfer to account, ``QRIBFTTC`` to card).

The payload built here, in order (all lengths in characters; values are ASCII)::

    00 "01"                         MPM Payload Format Indicator
    01 "12"                         MPM Point of Initiation Method: 12 = dynamic (one amount, one payment)
    38 ┬ 00 "A000000727"            NAPAS GUID (AID) of VietQR
       ├ 01 ┬ 00 bank BIN           6 digits (data/payments/napas_banks.csv)
       │    └ 01 account number     1..19 letters or digits
       └ 02 "QRIBFTTA"              NAPAS 247 transfer to an account
    53 "704"                        MPM Transaction Currency, ISO 4217 numeric (VND)
    54 amount                       MPM Transaction Amount: VND has no minor unit, so a plain integer
    58 "VN"                         MPM Country Code, ISO 3166-1 alpha-2
    62 └ 08 memo                    MPM Additional Data Field Template, Purpose of Transaction (up to 25)
    63 CRC                          MPM CRC, 4 upper-case hex characters

The money goes straight to the property's own account; a bank feed posts each incoming transfer to
``POST /v1/webhooks/bank-transfer``, whose ``description`` is where ``codes_in`` looks for the reservation code.
"""

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno

from src.booking import codes
from src.kernel import qr
from src.kernel.config import PROJECT_ROOT

#: NAPAS' GUID (application identifier) of VietQR in Merchant Account Information ID 38.
NAPAS_GUID = "A000000727"
#: NAPAS 247 service code: transfer to an account number (``QRIBFTTC`` would be to a card number).
SERVICE_TO_ACCOUNT = "QRIBFTTA"
#: ISO 4217 numeric code of the Vietnamese đồng.
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
#: The largest amount tag 54 can carry: MPM limits the Transaction Amount to 13 characters.
MAX_AMOUNT = 9_999_999_999_999
#: MPM's limit on Purpose of Transaction (ID 62, sub-ID 08).
MAX_MEMO_LENGTH = 25

#: The bank list shipped with the service (``data/SOURCES.md`` says where it comes from).
BANKS_FILE = PROJECT_ROOT / "data" / "payments" / "napas_banks.csv"

_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,19}")
_MEMO = re.compile(rf"[A-Za-z0-9 ]{{1,{MAX_MEMO_LENGTH}}}")
_TAG = re.compile(r"[0-9]{2}")


def crc16_ccitt(data: bytes) -> int:
    """The CRC-16/CCITT-FALSE of ``data``: polynomial ``0x1021``, initial value ``0xFFFF``, no reflection of input
    or output, final XOR ``0`` (MPM's CRC object; ISO/IEC 13239). ``crc16_ccitt(b"123456789") == 0x29B1``.

    Returns an int in ``0..0xFFFF``; ``crc_hex`` gives the form written in tag 63."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def crc_hex(data: bytes) -> str:
    """The CRC of ``data`` as MPM writes it in tag 63: 4 upper-case hexadecimal characters (``"29B1"``)."""
    return f"{crc16_ccitt(data):04X}"


def tlv(tag: str, value: str) -> str:
    """One MPM data object (§3): the 2-digit ``tag``, the value's length in 2 digits, then ``value``.

    ``tlv("53", "704") == "5303704"``. Raises ``ValueError`` if ``tag`` is not 2 digits, ``value`` is empty, longer
    than 99 characters or not ASCII (lengths count characters, and only ASCII keeps characters equal to bytes)."""
    if not _TAG.fullmatch(tag):
        raise ValueError(f"an EMVCo data object ID is 2 digits, not {tag!r}")
    if not value:
        raise ValueError(f"data object {tag} needs a value (lengths run from 01 to 99)")
    if len(value) > 99:
        raise ValueError(f"data object {tag} is {len(value)} characters long; at most 99 fit in a 2-digit length")
    if not value.isascii():
        raise ValueError(f"data object {tag} must be ASCII")
    return f"{tag}{len(value):02d}{value}"


def payload(*, bank_bin: str, account_number: str, amount: int, memo: str) -> str:
    """The VietQR payload (the text inside the QR code) asking for a transfer of ``amount`` VND to
    ``account_number`` at the bank ``bank_bin`` with the transfer description ``memo``.

    Args:
        bank_bin: the bank's NAPAS BIN, 6 digits (``"970436"`` is Vietcombank; see ``banks()``).
        account_number: the beneficiary account, 1..19 ASCII letters or digits (no spaces or dashes).
        amount: whole đồng, ``1..9_999_999_999_999`` (VND has no minor unit; 1,850,000 ₫ is ``1850000``).
        memo: what the guest's bank puts in the transfer description: 1..25 ASCII letters, digits and spaces.
            Banks drop or mangle anything else (diacritics, punctuation), so it is refused rather than sent.

    Returns the payload string (ASCII, 96 to 150 characters), ending in ``"6304"`` and its CRC. Raises
    ``ValueError`` naming the field that is wrong."""
    if not isinstance(bank_bin, str) or not _BIN.fullmatch(bank_bin):
        raise ValueError(f"bank_bin must be the bank's 6-digit NAPAS BIN, not {bank_bin!r}")
    if not isinstance(account_number, str) or not _ACCOUNT.fullmatch(account_number):
        raise ValueError(f"account_number must be 1 to 19 ASCII letters or digits, not {account_number!r}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"amount must be an integer number of VND, not {amount!r}")
    if not 1 <= amount <= MAX_AMOUNT:
        raise ValueError(f"amount must be between 1 and {MAX_AMOUNT:,} VND, not {amount:,}")
    if not isinstance(memo, str) or not _MEMO.fullmatch(memo):
        raise ValueError(
            f"memo must be 1 to {MAX_MEMO_LENGTH} ASCII letters, digits or spaces (banks strip anything else), "
            f"not {memo!r}"
        )
    beneficiary = tlv("00", bank_bin) + tlv("01", account_number)
    merchant_account = tlv("00", NAPAS_GUID) + tlv("01", beneficiary) + tlv("02", SERVICE_TO_ACCOUNT)
    body = (
        tlv("00", "01")
        + tlv("01", "12")
        + tlv("38", merchant_account)
        + tlv("53", CURRENCY_VND)
        + tlv("54", str(amount))
        + tlv("58", COUNTRY_VN)
        + tlv("62", tlv("08", memo))
        + "6304"
    )
    return body + crc_hex(body.encode("ascii"))


def memo_for(code: str) -> str:
    """The transfer memo for the reservation ``code``: the canonical code alone (``"LC7K2P9Q"``), 8 capitals and
    digits that no bank strips or rewrites. Accepts any spelling ``codes.normalise`` reads; raises ``ValueError``
    for text that is no reservation code."""
    canonical = codes.normalise(code)
    if canonical is None:
        raise ValueError(f"{code!r} is not a reservation code")
    return canonical


# --- Reading codes back out of bank transaction descriptions -------------------------------------------------------

#: A code character as it may appear in a description: Crockford's alphabet plus the look-alikes ``normalise`` maps
#: (``O``→``0``, ``I``/``L``→``1``). Only ``U`` of the Latin letters is left out.
_CHAR = "[0-9A-TV-Z]"
#: What may stand between the characters of one code: the separators ``codes.normalise`` removes.
_SEP = r"[\s.\-_]*"
#: A code written on its own or split by separators: ``LC7K2P9Q``, ``LC 7K2 P9Q``, ``L.C-7K2P9Q``. The ``L`` must not
#: follow a letter (``HOSTEL CK18500`` holds no code), but may follow a digit or punctuation (``...3456789.LC7K...``).
_SPACED = re.compile(rf"(?<![A-Z])(?=(L{_SEP}C(?:{_SEP}{_CHAR}){{{codes.LENGTH}}}))")
#: A code in the compacted description (every character but letters and digits removed).
_COMPACT = re.compile(rf"(?=(LC{_CHAR}{{{codes.LENGTH}}}))")


def _fold(text: str) -> str:
    """``text`` in upper-case ASCII: diacritics removed (``Đ`` → ``D``), full-width forms folded (NFKD), anything
    still outside ASCII turned into a space."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(ch if ch.isascii() else " " for ch in decomposed if not unicodedata.combining(ch))
    return ascii_only.upper()


def _compact_candidates(folded: str) -> list[str]:
    """Candidates of the compacted ``folded`` text, except an ``LC`` made of a word's last ``L`` and the next
    word's ``C`` (``"HOSTEL CK18500"``): such an ``L`` must touch its ``C`` in the text as written."""
    positions = [i for i, ch in enumerate(folded) if ch.isalnum()]
    compact = "".join(folded[i] for i in positions)
    found: list[str] = []
    for match in _COMPACT.finditer(compact):
        at_l, at_c = positions[match.start()], positions[match.start() + 1]
        after_letter = at_l > 0 and folded[at_l - 1].isalpha()
        if after_letter and at_c != at_l + 1:
            continue
        found.append(match.group(1))
    return found


def codes_in(description: str) -> list[str]:
    """The reservation codes a bank transaction ``description`` may contain: canonical (``"LC7K2P9Q"``),
    without repeats, in order of appearance; ``[]`` when there is none.

    Banks rewrite what the guest typed, so this reads generously:

    * case, diacritics and full-width characters are folded (``"lc7k2p9q"``);
    * separators inside a code are skipped (``"LC 7K2 P9Q"``, ``"LC-7K2P9Q"``, ``"lc.7k2.p9q"``);
    * prefixes and suffixes banks add are ignored (``"MBVCB.3456789.LC7K2P9Q.chuyen tien phong"``,
      ``"IBFT LC7K2P9Q"``, ``"NHAN TU 0011 TRACE 123 ND LC7K2P9Q"``, ``"LC7K2P9Qchuyen tien"``);
    * a code glued to the words around it is found (``"IBFTLC7K2P9Q"``, ``"LC7K2P9Qchuyen tien"``);
    * Crockford look-alikes are read as what they stand for (``"LC7K2P9O"`` → ``"LC7K2P90"``, ``I``/``L`` → ``1``).

    Two passes. The first reads the folded text, where a code starts with an ``L`` that follows no letter and may
    have separators between its characters. Only when that finds nothing, the second reads the compacted text
    (everything but letters and digits removed), where a code may start anywhere (``"IBFTLC7K2P9Q"``,
    ``"ND:LC/7K2P9Q"``) as long as an ``L`` that follows a letter touches its ``C``. Every candidate goes through
    ``codes.normalise``; what is no valid code is dropped.

    False positives are possible and accepted: the alphabet covers 31 of the 36 letters and digits, so a bank's
    ``LC`` followed by six such characters (a digit run after ``"LC "``, a truncated code that borrows a letter
    from the next word, or in the compacted pass an ``LC`` inside a longer word) reads as a code. A candidate is only
    a lead: the caller must also find a reservation with that code waiting for exactly the transferred amount
    before it counts the money, and should treat a description with several live candidates as ambiguous."""
    folded = _fold(description)
    found = [m.group(1) for m in _SPACED.finditer(folded)]
    if not any(codes.normalise(candidate) for candidate in found):
        found = _compact_candidates(folded)
    result: list[str] = []
    for candidate in found:
        canonical = codes.normalise(candidate)
        if canonical is not None and canonical not in result:
            result.append(canonical)
    return result


# --- QR images -----------------------------------------------------------------------------------------------------

#: Modules of quiet zone around the symbol (ISO/IEC 18004 asks for 4).
QUIET_ZONE = qr.QUIET_ZONE
#: The smallest PNG side in pixels: a phone scans it comfortably from a screen or a print at arm's length.
MIN_PNG_PIXELS = 400
#: SVG user units (px) per module. Payloads take QR versions 5 to 8 at level M (37 to 49 modules + quiet zone).
SVG_SCALE = 8


def _qr(text: str) -> segno.QRCode:
    """The QR symbol for ``text``: error correction level M (about 15 % of the symbol may be damaged), not raised
    automatically so the level is what the spec asks, the smallest version that fits."""
    return qr.symbol(text, "m")


def qr_svg(payload: str) -> bytes:
    """The QR code of ``payload`` as an SVG document (UTF-8 bytes, no XML declaration, ``<svg>`` root with the
    SVG namespace, width/height in px at 8 px per module plus a 4-module quiet zone). The same payload always gives
    the same bytes (no ids, dates or random values are written)."""
    return qr.svg(_qr(payload), SVG_SCALE)


def qr_png(payload: str) -> bytes:
    """The QR code of ``payload`` as a PNG (bytes): black on white, a 4-module quiet zone, a whole number of
    pixels per module chosen so that the image is at least ``MIN_PNG_PIXELS`` (400) px wide and high. The same
    payload always gives the same bytes (segno writes no timestamp chunk)."""
    symbol = _qr(payload)
    return qr.png(symbol, qr.scale_for_width(symbol, MIN_PNG_PIXELS))


# --- The banks of the NAPAS / VietQR network -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bank:
    """One bank (or digital bank brand) reachable through NAPAS 247 / VietQR.

    ``bin`` is its 6-digit NAPAS BIN (tag 38/01/00), ``short_name`` what apps show (``"Vietcombank"``), ``name``
    its registered Vietnamese name, ``swift_code`` its BIC where the source gives one."""

    bin: str
    short_name: str
    name: str
    swift_code: str | None = None


def _load_banks(path: Path) -> dict[str, Bank]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result: dict[str, Bank] = {}
    for row in rows:
        entry = Bank(
            bin=row["bin"], short_name=row["short_name"], name=row["name"], swift_code=row.get("swift_code") or None
        )
        if entry.bin in result:
            raise ValueError(f"{path.name}: BIN {entry.bin} appears twice")
        result[entry.bin] = entry
    return result


@cache
def banks() -> dict[str, Bank]:
    """The banks of ``data/payments/napas_banks.csv`` by BIN, read once per process."""
    return _load_banks(BANKS_FILE)


def bank(bin: str) -> Bank | None:
    """The bank with the 6-digit NAPAS ``bin``, or ``None`` if the list has none."""
    return banks().get(bin)
