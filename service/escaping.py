"""Output encoders: quoted and user-given text goes into each format as text, never markup.

Documents come from the web, uploads and other people's lists; questions from any Slack
user; a generated answer from a model a planted passage can steer. Every adapter that puts
such text into a format encodes it here, and writes its own markup around the result.
JSON (HTTP, MCP) needs nothing beyond JSON; the web page sets text as text.

Checked before writing these: defusedcsv 3.0.0 prefixes ``'`` but also rewrites ``|`` to
``\\|``, lets a leading tab or carriage return through and skips numeric-looking cells,
so its text is not byte-identical; slack-sdk 3.48 has no escaping helper;
markdown-to-mrkdwn and slackify-markdown convert Markdown into mrkdwn rather than quote
text; markdown-it-py parses Markdown but has no inline escaper. The rules are small, so
they are written out here (and tested against those parsers' behaviour in the tests).
"""

from __future__ import annotations

import re

_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

_MARKDOWN_PUNCT = re.compile(r"[\\`*_\[\]<>&#|~$]")
_MARKDOWN_AUTOLINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=[A-Za-z0-9])\.(?=[A-Za-z])|@")
_MARKDOWN_BLOCK_START = re.compile(r"^(?:[+\-=]|\d{1,9}[.)])")
_BACKTICKS = re.compile(r"`+")

CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)."""

_TERMINAL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_mrkdwn(text: str) -> str:
    """Text for a Slack ``mrkdwn`` or message ``text`` field, shown as written.

    Slack's rule ("Escaping text", formatting reference): ``&``, ``<`` and ``>`` are its
    control characters, so they become ``&amp;``, ``&lt;`` and ``&gt;`` everywhere they are
    not the sender's own markup. With them escaped, ``<!channel>``, ``<!here>``,
    ``<@U…>``, ``<#C…>`` and ``<url|label>`` are words on the screen, not a mention or a
    masked link. Plain URLs and ``@names`` are not parsed in a text object marked
    ``verbatim`` (``service/slack_blocks.py`` marks every one). Slack has no escape for
    ``*``, ``_`` or ``~``: they may still style a quote, which changes no words.
    """
    return text.translate(_SLACK)


def escape_markdown(text: str) -> str:
    """Text for inline Markdown (CommonMark and GitHub's extensions), read as written.

    Runs of whitespace, line breaks included, become one space: a quoted line can then
    never start a heading, list, quote or table row. Every ASCII punctuation character
    that makes inline markup is backslash-escaped (CommonMark lets any be, and a viewer
    shows the character alone): links and images ``[ ] ``, raw HTML and autolinks
    ``< >``, entities ``&``, emphasis ``* _ ~``, code `````, headings' closing ``#``,
    table cells ``|``, math ``$`` and the backslash itself. Bare URLs, domains and e-mail
    addresses, which GitHub and markdown-it's linkify (VS Code's preview) make links of,
    get an escape before the ``:`` of ``://``, a ``.`` between a name and the next word
    and ``@`` (an escape written into a URL is how GFM spells one that is not a link). A
    leading ``+``, ``-``, ``=`` or ``1.`` is escaped in case a line starts with the text.
    """
    text = " ".join(text.split())
    text = _MARKDOWN_PUNCT.sub(lambda m: "\\" + m[0], text)
    text = _MARKDOWN_AUTOLINK.sub(lambda m: "\\" + m[0], text)
    # The mark itself is escaped: "\\-", "12\\." (a list needs the digits then the mark).
    return _MARKDOWN_BLOCK_START.sub(lambda m: f"{m[0][:-1]}\\{m[0][-1]}", text, count=1)


def escape_markdown_code(text: str) -> str:
    """Text as a Markdown code span: shown verbatim in monospace, whatever it holds.

    CommonMark's rule: a code span ends at the first backtick run as long as the one that
    opened it, so the fence is one backtick longer than the longest run inside, padded
    with a space when the text starts or ends with a backtick. Line breaks become spaces
    first (blocks are parsed before code spans, so a line inside could start a heading).
    """
    text = " ".join(text.split())
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def escape_csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula.

    OWASP's rule against CSV injection: a string starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return gets a leading ``'`` (which spreadsheets hide or show
    as a quote mark); every other character stays as it was, and quoting is left to the
    ``csv`` module. Numbers, booleans and ``None`` are values, not text, and pass as they
    are.
    """
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value
    return value


def escape_terminal(text: str) -> str:
    """Text for a terminal line: control characters are shown, not obeyed.

    ECMA-48: C0 and C1 controls (ESC starts colour, cursor, title and hyperlink sequences;
    CR and LF rewrite or add lines) and the Unicode bidirectional controls that reorder
    what is shown (the "Trojan Source" characters) are written as ``\\xNN`` / ``\\uNNNN``.
    """
    return _TERMINAL_CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)
