"""Guest details as a property needs them: a name, a way to reach the guest, the nationality, and for a foreign guest
the passport number of the temporary-residence declaration (Vietnam's Law on Residence 2020, art. 30; Law 47/2014
on foreigners' entry, art. 33: the lodging declares each foreign guest with their passport).

- ``email``: checked and normalised with ``email-validator`` (syntax only; no DNS lookup on the booking path).
- ``phone``: parsed with ``phonenumbers`` (numbers without ``+`` are read as Vietnamese, region ``VN``), stored in
  E.164 (``+84912345678``); an impossible number is refused.
- ``nationality``: ISO 3166-1 alpha-2, checked against ``pycountry``'s copy of the standard.
- ``passport_number``: 5 to 20 letters and digits once spaces are dropped (ICAO Doc 9303 allows up to 9 in the MRZ;
  national formats vary), upper-cased. Optional when booking; required at check-in for a guest who is not
  Vietnamese (``require_passport``).
"""

import re
from dataclasses import dataclass

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from src.kernel.errors import InvalidParameter
from src.kernel.text import clean_text

HOME_COUNTRY = "VN"
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")


@dataclass(frozen=True, slots=True)
class Guest:
    """Validated guest details (see the module docstring)."""

    name: str
    nationality: str
    email: str | None
    phone: str | None
    passport_number: str | None


def clean_name(value: str, field: str = "guest.name") -> str:
    """``value`` in NFC without surrounding space; 422 when empty or holding control or bidirectional formatting
    characters (``src/kernel/text.py``)."""
    return clean_text(value, field)


def clean_email(value: str, field: str = "guest.email") -> str:
    """The normalised address (``email-validator``, no deliverability check); 422 when it is not one."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidParameter.of_field(field, str(exc)) from None


def clean_phone(value: str, field: str = "guest.phone") -> str:
    """The number in E.164 (``+84912345678``); numbers without a ``+`` are read as Vietnamese; 422 otherwise."""
    try:
        number = phonenumbers.parse(value, HOME_COUNTRY)
    except phonenumbers.NumberParseException:
        raise InvalidParameter.of_field(field, "is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidParameter.of_field(
            field, "is not a valid phone number (write it with its country code, e.g. +84...)"
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def clean_nationality(value: str, field: str = "guest.nationality") -> str:
    """The upper-case ISO 3166-1 alpha-2 code; 422 when it is not an assigned one."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidParameter.of_field(field, "must be an ISO 3166-1 alpha-2 country code such as VN, CN, FR, KR, US")
    return code


def clean_passport(value: str, field: str = "guest.passport_number") -> str:
    """The passport number upper-cased without spaces; 422 unless 5 to 20 letters and digits."""
    compact = re.sub(r"\s", "", value).upper()
    if not _PASSPORT.match(compact):
        raise InvalidParameter.of_field(field, "must be 5 to 20 letters and digits")
    return compact


def clean_guest(
    *,
    name: str,
    nationality: str,
    email: str | None,
    phone: str | None,
    passport_number: str | None,
    require_contact: bool = True,
) -> Guest:
    """Every field checked (see the module docstring); 422 naming the first bad field, or when neither an email
    nor a phone number is given (the property must be able to reach a guest who booked from afar; a walk-in guest
    at the desk, ``require_contact=False``, may give neither)."""
    cleaned_email = clean_email(email) if email else None
    cleaned_phone = clean_phone(phone) if phone else None
    if require_contact and cleaned_email is None and cleaned_phone is None:
        raise InvalidParameter.of_field("guest.email", "give an email address or a phone number (or both)")
    return Guest(
        name=clean_name(name),
        nationality=clean_nationality(nationality),
        email=cleaned_email,
        phone=cleaned_phone,
        passport_number=clean_passport(passport_number) if passport_number else None,
    )


def needs_passport(nationality: str) -> bool:
    """Whether a guest of ``nationality`` must show a passport number at check-in (every foreign guest)."""
    return nationality != HOME_COUNTRY
