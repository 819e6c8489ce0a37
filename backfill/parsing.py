"""Turn a language model's answer into book candidates, whatever shape the answer arrived in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_TITLE = 500
MAX_AUTHOR = 300
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.DOTALL)
# A flat JSON object: what survives of a list cut short mid-answer.
_FLAT_OBJECT = re.compile(r"\{[^{}\[\]]*\}")
_BY = re.compile(r"^(?P<title>.+?)\s+by\s+(?P<author>.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class BookCandidate:
    title: str
    author: str


def parse_book_candidates(text: str, *, limit: int) -> list[BookCandidate]:
    """Return up to `limit` distinct (title, author) pairs found in `text`; never raise."""
    if not isinstance(text, str) or limit <= 0:
        return []
    # A cut-off answer decodes to its first complete object only, so the salvaged
    # objects win whenever they hold more books.
    best: list[BookCandidate] = []
    for items in _item_lists(text):
        books = _candidates(items, limit=limit)
        if len(books) > len(best):
            best = books
    return best


def _candidates(items: list[Any], *, limit: int) -> list[BookCandidate]:
    seen: set[tuple[str, str]] = set()
    books: list[BookCandidate] = []
    for item in items:
        book = _candidate(item)
        if book is None:
            continue
        key = (book.title.casefold(), book.author.casefold())
        if key in seen:
            continue
        seen.add(key)
        books.append(book)
        if len(books) >= limit:
            break
    return books


def _item_lists(text: str) -> Iterator[list[Any]]:
    """Yield lists of raw items: decoded JSON first, then objects salvaged from broken JSON."""
    bodies = [m.group(1) for m in _FENCE.finditer(text)] or [text]
    for body in bodies:
        yield _as_items(_first_json_value(body))
    salvaged: list[Any] = []
    for match in _FLAT_OBJECT.finditer(text):
        try:
            salvaged.append(json.loads(match.group(0)))
        except ValueError:
            continue
    yield salvaged


def _first_json_value(body: str) -> Any:
    """Decode the first complete JSON array or object in `body`, ignoring text around it."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(body):
        if char not in "[{":
            continue
        try:
            value, _end = decoder.raw_decode(body, index)
        except ValueError:
            continue
        except RecursionError:
            return None
        if isinstance(value, (list, dict)):
            return value
    return None


def _as_items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in ("books", "items", "results", "data"):
            if isinstance(value.get(key), list):
                return list(value[key])
        lists = [v for v in value.values() if isinstance(v, list)]
        if lists:
            return list(lists[0])
        if "title" in value:
            return [value]
    return []


def _candidate(item: Any) -> BookCandidate | None:
    if isinstance(item, str):
        match = _BY.match(item.strip())
        title, author = (match["title"], match["author"]) if match else (item, "")
    elif isinstance(item, dict):
        title = _scalar(item.get("title") or item.get("name"))
        author = _text(item.get("author") or item.get("authors"))
    else:
        return None
    title = " ".join(str(title).split())[:MAX_TITLE]
    author = " ".join(str(author).split())[:MAX_AUTHOR]
    if not title:
        return None
    return BookCandidate(title=title, author=author)


def _scalar(value: Any) -> str:
    """Return a string for a string or number; '' for anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return str(value)


def _text(value: Any) -> str:
    """Return a readable string for a scalar or a list of scalars; '' for anything else."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value if _text(v))
    return ""
