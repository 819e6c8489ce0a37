"""Structured-output parsing survives fences, prose, cut-off JSON and wrong types."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backfill.parsing import BookCandidate, parse_book_candidates
from controlplane.redaction import redact


def pairs(text: str, limit: int = 50) -> list[tuple[str, str]]:
    return [(b.title, b.author) for b in parse_book_candidates(text, limit=limit)]


def test_parse__plain_array() -> None:
    assert pairs('[{"title": "James", "author": "Percival Everett"}]') == [
        ("James", "Percival Everett")
    ]


def test_parse__code_fence_and_trailing_text() -> None:
    text = 'Sure!\n```json\n{"books": [{"title": "A", "author": "B"}]}\n```\nAnything else?'
    assert pairs(text) == [("A", "B")]


def test_parse__prose_around_json_with_brackets_in_prose() -> None:
    text = 'Notes [see below]: [{"title": "A", "author": "B"}] (2 items) {oops'
    assert pairs(text) == [("A", "B")]


def test_parse__truncated_json_keeps_complete_objects() -> None:
    text = '[{"title": "A", "author": "B"}, {"title": "C", "author": "D"}, {"title": "E", "au'
    assert pairs(text) == [("A", "B"), ("C", "D")]


def test_parse__wrong_types_are_coerced_or_dropped() -> None:
    text = """[
        {"title": 1984, "author": "George Orwell"},
        {"title": "Multi", "authors": ["Ann", "Bob", 3]},
        {"title": null, "author": "Nobody"},
        {"title": ["x"], "author": "List title"},
        {"title": "  Spaced   Out ", "author": {"name": "dict"}},
        "Dune by Frank Herbert",
        42,
        null
    ]"""
    assert pairs(text) == [
        ("1984", "George Orwell"),
        ("Multi", "Ann, Bob, 3"),
        ("Spaced Out", ""),
        ("Dune", "Frank Herbert"),
    ]


def test_parse__dedupes_and_limits() -> None:
    text = '[{"title": "A", "author": "B"}, {"title": "a", "author": "b"}, {"title": "C"}]'
    assert pairs(text) == [("A", "B"), ("C", "")]
    assert pairs(text, limit=1) == [("A", "B")]


def test_parse__nothing_usable() -> None:
    assert parse_book_candidates("I don't know.", limit=5) == []
    assert parse_book_candidates('{"error": "nope"}', limit=5) == []
    assert parse_book_candidates("", limit=5) == []


@given(st.text(max_size=400), st.integers(min_value=0, max_value=60))
def test_parse__never_raises_on_arbitrary_text(text: str, limit: int) -> None:
    books = parse_book_candidates(text, limit=limit)
    assert len(books) <= limit
    assert all(isinstance(b, BookCandidate) and b.title for b in books)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["title", "author", "books", "x"]), children, max_size=4),
        max_leaves=20,
    )
)
def test_parse__never_raises_on_arbitrary_json(value: object) -> None:
    import json

    books = parse_book_candidates(json.dumps(value), limit=10)
    assert all(len(b.title) <= 500 and len(b.author) <= 300 for b in books)


def test_scrub__removes_raw_and_encoded_secrets_and_key_params() -> None:
    text = (
        "GET https://x/v1?key=AIza%2Fsecret&alt=json key: sk/secret token=abc "
        "Authorization: Bearer zzz"
    )
    cleaned = redact(text, ["sk/secret", "AIza/secret"], credential_words=True)
    for leaked in ("sk/secret", "AIza%2Fsecret", "abc", "zzz"):
        assert leaked not in cleaned
    assert "alt=json" in cleaned
