"""The shipped gettext catalogs cover every message marked in the source, in every supported locale.

Messages are extracted straight from ``src/`` with Babel's Python API and the repository's ``babel.cfg``, so a
message added in code without a translation (or with only a fuzzy one) fails here. See ``babel.cfg`` for the
commands that refresh ``locales/``.
"""

from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from src.kernel.config import PROJECT_ROOT
from src.kernel.i18n import LOCALES_DIR, SUPPORTED_LOCALES, catalog_dir_name, gettext

#: Same keywords as the documented ``pybabel extract -k N_`` (the defaults, which include ``_`` and ``gettext``).
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "_": None, "gettext": None}
CATALOG_DIRS = [catalog_dir_name(locale) for locale in SUPPORTED_LOCALES]


@cache
def source_msgids() -> frozenset[str]:
    """Every message id marked in the source tree, extracted as ``pybabel extract -F babel.cfg`` would."""
    with (PROJECT_ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename="babel.cfg")  # type: ignore[no-untyped-call]
    msgids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        msgids.add(message if isinstance(message, str) else message[0])
    return frozenset(msgids)


def load_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale=locale)


def catalog_path(dir_name: str) -> Path:
    return LOCALES_DIR / dir_name / "LC_MESSAGES" / "messages.po"


def test_source_has_messages() -> None:
    assert {"Not found", "Invalid parameter", "Unsupported language", "Service not ready"} <= source_msgids()


def test_template_is_current() -> None:
    template = load_catalog(LOCALES_DIR / "messages.pot")
    missing = sorted(source_msgids() - {message.id for message in template if message.id})
    assert not missing, f"locales/messages.pot lacks {missing}; re-run the extract command in babel.cfg"


@pytest.mark.parametrize("dir_name", CATALOG_DIRS)
def test_catalog_translates_every_message(dir_name: str) -> None:
    catalog = load_catalog(catalog_path(dir_name), locale=dir_name)
    untranslated = []
    for msgid in sorted(source_msgids()):
        message = catalog.get(msgid)
        if message is None or not message.string or message.fuzzy:
            untranslated.append(msgid)
    assert not untranslated, f"{dir_name}: missing, empty or fuzzy translations for {untranslated}"


@pytest.mark.parametrize("dir_name", CATALOG_DIRS)
def test_catalog_has_no_stale_obsolete_entries(dir_name: str) -> None:
    catalog = load_catalog(catalog_path(dir_name), locale=dir_name)
    stale = sorted(set(catalog.obsolete) - source_msgids())
    assert not stale, f"{dir_name}: obsolete (#~) entries no longer in the source: {stale}"


def test_english_catalog_is_identity() -> None:
    catalog = load_catalog(catalog_path("en"), locale="en")
    assert all(message.string == message.id for message in catalog if message.id)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("vi", "Không tìm thấy"),
        ("zh-Hans", "未找到"),
        ("fr", "Introuvable"),
        ("ko", "찾을 수 없음"),
        ("en", "Not found"),
    ],
)
def test_gettext_compiles_catalogs_in_memory(locale: str, expected: str) -> None:
    assert gettext("Not found", locale) == expected
