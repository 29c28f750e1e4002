"""British and American spellings of one word: "data centres" finds "data centers".

The corpus mixes both (the UK's plan writes "centres", "programme", "organisations"; US
orders "centers", "program", "organizations"), and a stemmer keeps them apart ("centr",
"center"). A question's English words are spelt the other way too, and those terms join
the question as forms of its own (``ingest.sparse.question_terms``). A respelling that is
no word ("computre") matches nothing, so the rules can be plain.
"""

from __future__ import annotations

import re

_DOUBLED_L = (
    "model|label|travel|cancel|signal|fuel|channel|level|total|counsel|tunnel|panel|marshal"
)
"""Words British English doubles the l of before -ed, -ing, -er ("modelling"); a general
rule would respell other words ("filling" as "filing")."""
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"(?<=\w{2})tre(s?)$", r"ter\1"),  # centre, metre
        (r"(?<=\w{2})ter(s?)$", r"tre\1"),
        (r"(?<=\w{2})our(s|ed|ing|able)?$", r"or\1"),  # labour, behaviour
        (r"(?<=\w{3})or(s|ed|ing|able)?$", r"our\1"),
        (r"(?<=\w{2})is(e|es|ed|ing|ation|ations|er|ers)$", r"iz\1"),  # organise
        (r"(?<=\w{2})iz(e|es|ed|ing|ation|ations|er|ers)$", r"is\1"),
        (r"(?<=\w{2})ys(e|es|ed|ing)$", r"yz\1"),  # analyse
        (r"(?<=\w{2})yz(e|es|ed|ing)$", r"ys\1"),
        (rf"^({_DOUBLED_L})l(ed|ing|er|ers)$", r"\1\2"),  # modelling
        (rf"^({_DOUBLED_L})(ed|ing|er|ers)$", r"\1l\2"),
        (r"(?<=\w{3})ence(s?)$", r"ense\1"),  # licence, defence
        (r"(?<=\w{3})ense(s?)$", r"ence\1"),
        (r"^programme(s?)$", r"program\1"),
        (r"^program(s?)$", r"programme\1"),
        (r"(?<=\w{3})logue(s?)$", r"log\1"),  # catalogue, dialogue
        (r"(?<=\w{3})log(s?)$", r"logue\1"),
    )
)
_WORD = re.compile(r"[A-Za-z]{4,}")


def respellings(word: str) -> set[str]:
    """The other spellings of an English word (lower-cased; empty: none)."""
    lower = word.lower()
    found = {rule.sub(replacement, lower) for rule, replacement in _RULES}
    found.discard(lower)
    return found


def words(text: str) -> list[str]:
    """The English words of a text that may be spelt another way."""
    return _WORD.findall(text)
