"""A small saved flow for the command line: normalise a text, count its words and find the longest
one side by side, and sum up. ``word_stats.yaml`` is this flow saved; the command line
draws and runs it through ``registry``:

    playbill draw examples/word_stats.yaml --registry examples/word_stats.py:registry
    playbill run examples/word_stats.yaml --registry examples/word_stats.py:registry \\
        --input '"Actors are values here"'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playbill.flow import Flow, Registry, from_yaml, run_flow, step, zip_all

SAVED = Path(__file__).with_suffix(".yaml")


def normalise(text: str) -> list[str]:
    return text.lower().split()


def twice(words: list[str]) -> tuple[list[str], list[str]]:
    """One copy for each side of the zip."""
    return words, words


def count_words(words: list[str]) -> int:
    return len(words)


def longest_word(words: list[str]) -> str:
    return max(words, key=len, default="")


def summary(parts: tuple[Any, ...]) -> dict[str, Any]:
    count, longest = parts
    return {"words": count, "longest": longest}


def word_stats() -> Flow[str, dict[str, Any]]:
    both_sides = zip_all(step(count_words), step(longest_word))
    return step(normalise) >> step(twice) >> both_sides >> step(summary)


def registry() -> Registry:
    """The names the saved flow uses, and nothing else."""
    names = Registry()
    for function in (normalise, twice, count_words, longest_word, summary):
        names.register(function)
    return names


def main() -> None:
    flow = from_yaml(SAVED.read_text(encoding="utf-8"), registry())
    assert flow == word_stats()
    print(run_flow(flow, "Actors are values here"))


if __name__ == "__main__":
    main()
