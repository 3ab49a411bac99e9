"""Turning text into normalised German word stems (docs/security.md, "Search").

Words are case-folded and stemmed with the Snowball German stemmer, which also folds umlauts
and their "oe"/"ae"/"ue" spellings ("Heizkörper" and "Heizkoerper" both become "heizkorp");
"ß" becomes "ss". Only keyed hashes of the stems reach the database.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import Stemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_local = threading.local()
MAX_WORD = 40  # longer "words" are hashes, base64 or pasted garbage: not worth indexing


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("german")
        _local.stemmer = stemmer
    return stemmer


def words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFC", text).casefold().replace("ß", "ss")
    return [w for w in _WORD.findall(folded) if len(w) <= MAX_WORD]


def stems(text: str) -> set[str]:
    """The distinct stems of a text, as indexed and as searched."""
    ws = words(text)
    return set(_stemmer().stemWords(ws)) if ws else set()
