"""The PHP and WordPress functions WooCommerce's product CSV importer leans on, re-implemented
for :mod:`tests.checkers.woocommerce_importer`.

Sources (read in the file index of ``woocommerce/woocommerce``; WordPress core functions
from WordPress ``wp-includes/formatting.php`` and ``kses.php`` as they behave in 6.x):

- ``wc_format_decimal``, ``wc_clean``, ``wc_stock_amount``:
  ``plugins/woocommerce/includes/wc-formatting-functions.php`` @012314de;
  ``woocommerce_stock_amount`` is filtered by ``intval`` (``wc-core-functions.php``).
- ``wc_sanitize_taxonomy_name``, ``wc_create_attribute`` (slug rules, reserved terms):
  ``plugins/woocommerce/includes/wc-attribute-functions.php`` @00bd597c.
- PHP's own ``floatval``/``intval``/``is_numeric`` on strings (PHP 8 rules) and the subset of
  ``strtotime`` formats catalogs use.

Anything outside the modelled subset raises :class:`NotModelled` rather than guessing: a checker
that guessed could pass a file the real importer mangles.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote, unquote


class NotModelled(Exception):
    """A value whose handling by WooCommerce this checker does not reproduce."""


# PHP 8 numeric strings: leading (and trailing) whitespace, sign, digits, dot, exponent.
_NUM_PREFIX = re.compile(r"[ \t\n\r\v\f]*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_NUMERIC = re.compile(r"[ \t\n\r\v\f]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
                      r"[ \t\n\r\v\f]*")


def php_empty(v: object) -> bool:
    """PHP's ``empty()``: '', '0', 0, 0.0, False, None and empty arrays."""
    return v is None or v is False or v == "" or v == "0" or v == [] or v == {} or (
        isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0)


def php_is_numeric(s: str) -> bool:
    return bool(_NUMERIC.fullmatch(s))


def php_floatval(s: str) -> float:
    """``floatval()`` of a string: the longest numeric prefix, else 0 ("1,5" is 1.0)."""
    m = _NUM_PREFIX.match(s)
    return float(m.group(1)) if m else 0.0


def php_intval(s: str | float) -> int:
    """``intval()``: "12.9" is 12, "1e3" is 1000, "12abc" is 12, "abc" is 0."""
    if isinstance(s, (int, float)):
        return int(s)
    f = php_floatval(s)
    return int(f) if abs(f) < 2**63 else 0


def php_truthy(v: object) -> bool:
    return not php_empty(v)


def wc_string_to_bool(v: object) -> bool:
    if isinstance(v, bool):
        return v
    s = "" if v is None else str(v)
    return s.lower() in ("yes", "true") or s == "1" or v == 1


# ---------------------------------------------------------------- text sanitising

_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)[^>]*?>.*?</\1>", re.IGNORECASE | re.DOTALL)


def strip_all_tags(s: str) -> str:
    """``wp_strip_all_tags`` (without removing line breaks): drops script/style blocks, then
    every tag (PHP ``strip_tags`` also drops an unclosed trailing tag)."""
    s = _SCRIPT.sub("", s)
    s = _TAG.sub("", s)
    return re.sub(r"<[^>]*$", "", s).strip()


def _pre_kses_less_than(s: str) -> str:
    # wp_pre_kses_less_than: a '<' that does not start a tag becomes &lt;
    return re.sub(r"<[^>]*?((?=<)|>|$)",
                  lambda m: m.group(0) if ">" in m.group(0) else html.escape(m.group(0),
                                                                          quote=False), s)


def sanitize_text_field(s: str) -> str:
    """``sanitize_text_field`` (``wc_clean`` on a scalar): strips tags, collapses whitespace
    and line breaks to one space, trims, and removes percent-encoded octets ("%20")."""
    if "<" in s:
        s = strip_all_tags(_pre_kses_less_than(s)).replace("<\n", "&lt;\n")
    s = re.sub(r"[\r\n\t ]+", " ", s).strip()
    found = False
    while m := re.search(r"%[a-f0-9]{2}", s, re.IGNORECASE):
        s = s.replace(m.group(0), "")
        found = True
    if found:
        s = re.sub(r" +", " ", s).strip()
    return s


wc_clean = sanitize_text_field

_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
# The tags wp_kses_post keeps (the common part of $allowedposttags).
_POST_TAGS = frozenset(
    ["a", "abbr", "acronym", "address", "article", "aside", "b", "bdo", "big", "blockquote", "br",
     "caption", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl",
     "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
     "hgroup", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q",
     "s", "samp", "section", "small", "span", "strike", "strong", "sub", "summary", "sup", "table",
     "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var"])


def _normalize_entities(s: str) -> str:
    # wp_kses_normalize_entities: a bare '&' becomes '&amp;', real entities stay.
    out, i = [], 0
    for m in re.finditer(r"&", s):
        out.append(s[i:m.start()])
        out.append("&" if _ENTITY.match(s, m.start()) else "&amp;")
        i = m.end()
    out.append(s[i:])
    return "".join(out)


def wp_kses_post(s: str) -> str:
    """``wp_kses_post``: bare '&' becomes '&amp;', tags outside the post allow-list are removed
    (their text kept), ``on*`` attributes and ``javascript:`` URLs are dropped, a stray '<'
    or '>' is escaped."""
    s = _normalize_entities(s.replace("\x00", ""))

    def tag(m: re.Match[str]) -> str:
        name = m.group(2).lower()
        if name not in _POST_TAGS:
            return ""
        attrs = re.sub(r"""\s+on\w+\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", "", m.group(3),
                       flags=re.IGNORECASE)
        attrs = re.sub(r"""(href|src)\s*=\s*(["']?)\s*javascript:[^"'\s>]*\2""", "",
                       attrs, flags=re.IGNORECASE)
        return f"<{m.group(1)}{m.group(2)}{attrs}>"

    s = _SCRIPT.sub("", s)
    parts = re.split(r"(<(/?)([A-Za-z][\w-]*)([^<>]*)>)", s)
    out = []
    for k in range(0, len(parts), 5):
        out.append(parts[k].replace("<", "&lt;").replace(">", "&gt;"))
        if k + 1 < len(parts):
            m = re.fullmatch(r"<(/?)([A-Za-z][\w-]*)([^<>]*)>", parts[k + 1])
            assert m
            out.append(tag(m))
    return "".join(out)


# remove_accents covers more than NFD: the letters that do not decompose.
_LIGATURES = {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
              "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ł": "l", "Ł": "L", "đ": "d",
              "Đ": "D", "ı": "i", "ŀ": "l", "Ŀ": "L"}


def remove_accents(s: str) -> str:
    s = "".join(_LIGATURES.get(c, c) for c in s)
    return unicodedata.normalize("NFC", "".join(
        c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c)))


def sanitize_title(title: str) -> str:
    """``sanitize_title`` in the 'save' context (``remove_accents`` then
    ``sanitize_title_with_dashes``): "Grigio mélange" -> "grigio-melange", "Blu/Navy" ->
    "blu-navy", "140x180" stays, non-Latin letters are percent-encoded."""
    s = strip_all_tags(remove_accents(title))
    s = re.sub(r"%([a-fA-F0-9]{2})", r"---\1---", s).replace("%", "")
    s = re.sub(r"---([a-fA-F0-9]{2})---", r"%\1", s)
    s = quote(s.lower(), safe="".join(chr(c) for c in range(32, 127)))
    s = s.lower()
    for dash in ("%c2%a0", "%e2%80%93", "%e2%80%94", "&nbsp;", "&#160;", "&ndash;",
                 "&#8211;", "&mdash;", "&#8212;", "/"):
        s = s.replace(dash, "-")
    for gone in ("%c2%ad", "%c2%a1", "%c2%bf", "%c2%ab", "%c2%bb", "%e2%80%b9", "%e2%80%ba",
                 "%e2%80%98", "%e2%80%99", "%e2%80%9c", "%e2%80%9d", "%e2%80%9a",
                 "%e2%80%9b", "%e2%80%9e", "%e2%80%9f", "%e2%80%a2", "%c2%a9", "%c2%ae",
                 "%c2%b0", "%e2%80%a6", "%e2%84%a2", "%c2%b4", "%cb%8a", "%cc%81", "%cd%81",
                 "%cc%80", "%cc%84", "%cc%8c", "%e2%80%8b", "%e2%80%8c", "%e2%80%8d",
                 "%e2%80%8e", "%e2%80%8f", "%e2%80%aa", "%e2%80%ab", "%e2%80%ac",
                 "%e2%80%ad", "%e2%80%ae", "%ef%bb%bf", "%ef%bf%bc"):
        s = s.replace(gone, "")
    s = s.replace("%c3%97", "x")
    s = re.sub(r"&.+?;", "", s).replace(".", "-")
    s = re.sub(r"[^%a-z0-9 _-]", "", s)
    s = re.sub(r"\s+", "-", s)
    return re.sub(r"-+", "-", s).strip("-")


def wc_sanitize_taxonomy_name(name: str) -> str:
    return unquote(sanitize_title(unquote(name)))


def sanitize_file_name(name: str) -> str:
    """``sanitize_file_name`` for the common case: special characters removed, spaces and
    runs of dashes become one dash."""
    name = re.sub(r"[?\[\]/\\=<>:;,'\"&$#*()|~`!{}%+\u00ab\u00bb\u201c\u201d\u00a0]", "", name)
    name = re.sub(r"[\r\n\t -]+", "-", name)
    return name.strip(".-_")


_ALLOWED_PROTOCOLS = ("http", "https", "ftp", "ftps", "mailto", "news", "irc", "irc6", "ircs",
                      "gopher", "nntp", "feed", "telnet", "mms", "rtsp", "sms", "svn", "tel",
                      "fax", "xmpp", "webcal", "urn")


def esc_url_raw(url: str) -> str:
    """``esc_url_raw``: spaces become %20, characters outside the URL set are removed, a
    scheme outside ``wp_allowed_protocols`` empties the URL."""
    url = url.strip().replace(" ", "%20")
    url = re.sub(r"[^a-zA-Z0-9\-~+_.?#=!&;,/:%@$|*'()\[\]\x80-\U0010ffff]", "", url)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme and scheme not in _ALLOWED_PROTOCOLS:
        return ""
    return url


# ---------------------------------------------------------------- numbers

def wc_format_decimal(number: str | float, decimal_separator: str = ".") -> str:
    """``wc_format_decimal($number)`` with ``$dp = false`` as the importer and the product
    setters call it. Strings: the store's decimal separator (and '.') become '.', then every
    character but digits, '.' and '-' is removed and only the last '.' is kept: with the
    default separator '.', "12,50" becomes "1250". Floats are printed with 6 decimals and
    trimmed ("0.25")."""
    if isinstance(number, float):
        s = f"{number:.6f}"
        return s.rstrip("0").rstrip(".") if "." in s else s
    s = number
    for sep in (decimal_separator, "."):
        if sep:
            s = s.replace(sep, ".")
    return re.sub(r"\.(?![^.]+$)|[^0-9.-]", "", wc_clean(s))


def wc_stock_amount(v: str | float) -> int:
    return php_intval(v)


def php_compare_gt(a: str, b: str) -> bool:
    """PHP 8 ``$a > $b`` for two strings: numeric strings compare as numbers."""
    if php_is_numeric(a) and php_is_numeric(b):
        return float(a) > float(b)
    return a > b


# ---------------------------------------------------------------- dates

_ISO_T = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|[-+]\d{2}:\d{2})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_YMD_SLASH = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_MDY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")          # PHP reads n/n/yyyy as m/d/Y
_DMY = re.compile(r"(\d{1,2})[-.](\d{1,2})[-.](\d{4})")      # and n-n-yyyy, n.n.yyyy as d-m-Y


def _date(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime | None:
    # PHP accepts day 1..31 in any month and rolls over ("2026-02-30" is 2 March); a month
    # or day out of those ranges makes strtotime return false.
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 24 and mi <= 59 and s <= 59):
        return None
    return datetime(y, mo, 1) + timedelta(days=d - 1, hours=h, minutes=mi, seconds=s)


def strtotime_local(value: str) -> datetime | None:
    """PHP ``strtotime`` for the date formats catalogs use, as a naive local time; None where
    PHP returns false (e.g. "31/05/2026": slashes are month/day/year, month 31 is invalid).
    Other strtotime syntaxes ("next monday", "31 May 2026") raise :class:`NotModelled`."""
    v = value.strip()
    if m := _YMD.fullmatch(v):
        y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
        return _date(y, mo, d, h, mi, s)
    if m := _YMD_SLASH.fullmatch(v):
        return _date(int(m[1]), int(m[2]), int(m[3]))
    if m := _MDY.fullmatch(v):
        return _date(int(m[3]), int(m[1]), int(m[2]))
    if m := _DMY.fullmatch(v):
        return _date(int(m[3]), int(m[2]), int(m[1]))
    raise NotModelled(f"date {value!r}: a strtotime() syntax this checker does not reproduce")


def set_date_prop(value: str, tz: timezone) -> datetime | None:
    """``WC_Data::set_date_prop`` for a string or a timestamp, returned as naive local time in
    the store's timezone ``tz``. A date without a time is midnight: "Date sale price ends"
    2026-05-31 ends the sale when 31 May begins."""
    if php_empty(value) or value == "0000-00-00 00:00:00":
        return None
    if php_is_numeric(value):
        utc = datetime.fromtimestamp(int(float(value)), UTC)
        return utc.astimezone(tz).replace(tzinfo=None)
    if m := _ISO_T.fullmatch(value):
        y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
        base = datetime(y, mo, d, h, mi, sec)
        zone = m[7]
        if zone == "Z":
            offset = timedelta(0)
        else:
            sign = -1 if zone[0] == "-" else 1
            offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        return (base - offset).replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
    return strtotime_local(value)
