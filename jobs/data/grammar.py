"""A grammar for MSGS-style sentences (Warstadt et al. 2020): SYNTACTIC CATEGORY x RELATIVE POSITION.

Sentences are built as MSGS builds them: a subject (a name, or a noun phrase, perhaps with a
relative clause), a verb phrase in one of many forms (modals and negation: "might", "wouldn't",
"isn't hugging", "didn't see"), an object, and adjuncts (places, adverbs, a second clause after
"before", "while" ...). Noun phrases take determiners (some, each, every, no, that, this) and
modifiers: adjectives, or nouns before nouns ("the hockey coach"), so that sentences without
an adjective hold as many modifiers as those with one. Words come from jobs/data/msgswords.py.

Two features are set independently:
- linguistic (the label): is an adjective present?
- surface (the confound): does the first "the" come before the first "a"?
Each sentence holds exactly one "the" and one "a" (often its first two determiners); the others are safe, so
only the order of the two articles carries the surface feature. Every word that can follow a
determiner starts with a consonant, so "a" is always grammatical. Lengths are those of MSGS'
sentences: 9 to 18 words, about 13 on average.

As in MSGS, the open classes are split into two halves: train sentences use one ("in domain"),
dev and test sentences the other ("out of domain").
"""
from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass

from jobs.data import msgswords as W

SAFE_DETERMINERS = W.SAFE_DETERMINERS
ADJECTIVES = W.ADJECTIVES
DOMAINS = ("train", "test")
MIN_WORDS, MAX_WORDS = 9, 18
LENGTH_MEAN, LENGTH_SD = 13.2, 1.6  # MSGS' training sentences, in words
# Share of sentences whose articles are their first two determiners: the knob of how easy the
# surface feature is. Measured (deconfound datasets --calibrate msgs, seed 2021; the original:
# test 79.4, agree 91.4, disagree 55.4): 1.0 gave 68.2 / 100.0 / 4.7, 0.25 gave 95.2 / 98.2 / 89.3;
# the target's gap (36) lies between, about 0.5 by interpolation (not yet measured).
FIRST_SLOTS = 0.25
D, M = "<D>", "<M>"  # a determiner slot; a modifier slot (empty, an adjective or a noun modifier)


@dataclass(frozen=True)
class Lexicon:
    """The open-class words one domain draws from."""

    names: list[str]
    people: list[str]
    things: list[str]
    places: list[str]
    adjectives: list[str]
    modifiers: list[str]  # nouns that modify nouns ("ballet" in "ballet dancer")


def domain_of(word: str) -> str:
    """The domain of an open-class word, by a checksum of it: a word in two classes ('school',
    a place and a noun modifier) is in the same domain in both."""
    return DOMAINS[zlib.crc32(word.lower().encode()) % 2]


def lexicon(domain: str) -> Lexicon:
    """The open-class words of 'train' (in domain) or 'test' (out of domain): about half of each class."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be 'train' or 'test', not {domain!r}")
    return Lexicon(*([w for w in words if domain_of(w) == domain] for words in (
        W.NAMES, W.PEOPLE, W.THINGS, W.PLACES, W.ADJECTIVES, W.NOUN_MODIFIERS)))


def noun_phrase(rng: random.Random, head: list[str]) -> list[str]:
    return [D, M, rng.choice(head)]


def subject(rng: random.Random, lex: Lexicon) -> list[str]:
    """A name, a person, or a person with a relative clause ("the boy who saw a cat")."""
    roll = rng.random()
    if roll < 0.25:
        return [rng.choice(lex.names)]
    person = noun_phrase(rng, lex.people)
    if roll < 0.45:
        _, past, _ = rng.choice(W.VERBS)
        return person + [rng.choice(["who", "that"]), past, *obj(rng, lex)]
    return person


def obj(rng: random.Random, lex: Lexicon) -> list[str]:
    """A name, a person or a thing."""
    roll = rng.random()
    if roll < 0.15:
        return [rng.choice(lex.names)]
    return noun_phrase(rng, lex.people if roll < 0.55 else lex.things)


def verb_phrase(rng: random.Random) -> list[str]:
    """A verb in one of MSGS' forms: past, present, progressive, modal, negated."""
    base, past, ing = rng.choice(W.VERBS)
    kind = rng.randrange(8)
    if kind == 0:
        return [past]
    if kind == 1:
        return [W.third_person(base)]
    if kind == 2:
        return [rng.choice(["is", "was", "isn't", "wasn't"]), ing]
    if kind == 3:
        return [rng.choice(W.MODALS), base]
    if kind == 4:
        return [rng.choice(W.NEGATED_MODALS), base]
    if kind == 5:
        return [rng.choice(W.MODALS), "not", base]
    if kind == 6:
        return [rng.choice(["didn't", "doesn't", "did", "does"]), base]
    return [rng.choice(W.ADVERBS), past]


def adjunct(rng: random.Random, lex: Lexicon) -> list[str]:
    """A place ("in that cafe"), an adverb, or a second clause ("before Mary saw some dog")."""
    roll = rng.random()
    if roll < 0.5:
        return [rng.choice(W.PREPOSITIONS), *noun_phrase(rng, lex.places)]
    if roll < 0.65:
        return [rng.choice(W.ADVERBS)]
    return [rng.choice(W.CONJUNCTIONS), *subject(rng, lex), *verb_phrase(rng), *obj(rng, lex)]


def skeleton(rng: random.Random, lex: Lexicon, length: int) -> list[str]:
    """A sentence with its determiner and modifier slots still open: a clause, then adjuncts
    while it is expected to fall short of `length` words once its modifiers are filled."""
    words = subject(rng, lex) + verb_phrase(rng) + obj(rng, lex)

    def expected(words: list[str]) -> float:  # the marked modifier, and a quarter of the others
        slots = words.count(M)
        return len(words) - slots + 1 + 0.25 * (slots - 1)

    while expected(words) < length - 0.5:
        words += adjunct(rng, lex)
    return words


def fill(rng: random.Random, words: list[str], lex: Lexicon, adjective: bool, the_first: bool) -> list[str]:
    """Modifiers: one slot takes an adjective (adjective=True) or a noun modifier (False), the
    others a noun modifier now and then; determiners: of two of them (the first two in a share FIRST_SLOTS
    of sentences, else any two), the earlier takes 'the' or 'a' as `the_first` asks, the later
    the other, the rest safe determiners."""
    modifier_slots = [i for i, w in enumerate(words) if w == M]
    marked = rng.choice(modifier_slots)
    for i in modifier_slots:
        words[i] = rng.choice(lex.modifiers) if rng.random() < 0.25 else ""
    if adjective:
        words[marked] = " ".join([rng.choice(lex.adjectives), words[marked]]).strip()
    elif not words[marked]:
        words[marked] = rng.choice(lex.modifiers)
    slots = [i for i, w in enumerate(words) if w == D]
    # The articles are the first two determiners (subject and object, mostly: "The cat that is
    # chasing a dog") in a share FIRST_SLOTS of sentences, otherwise any two. Always the first two
    # made the order a sentence-initial word, and MiniLM read only it (calibration, seed 2021:
    # agree 100, disagree 4.7, against the original's 91.4 and 55.4).
    early, late = slots[:2] if rng.random() < FIRST_SLOTS else sorted(rng.sample(slots, 2))
    for i in slots:
        words[i] = rng.choice(SAFE_DETERMINERS)
    words[early], words[late] = ("the", "a") if the_first else ("a", "the")
    return " ".join(w for w in words if w).split()


def msgs_sentence(rng: random.Random, lex: Lexicon, adjective: bool, the_first: bool) -> str:
    """One sentence whose features are (adjective present, 'the' before 'a') as asked. Its length
    is drawn first, from MSGS' (normal, rounded, MIN_WORDS to MAX_WORDS words), and sentences are
    built until one has it."""
    length = min(MAX_WORDS, max(MIN_WORDS, round(rng.gauss(LENGTH_MEAN, LENGTH_SD))))
    while True:
        words = skeleton(rng, lex, length)
        if words.count(D) < 2:  # room for both articles
            continue
        words = fill(rng, words, lex, adjective, the_first)
        if len(words) == length:
            words[0] = words[0][0].upper() + words[0][1:]
            return " ".join(words) + "."


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


_ADJECTIVE_SET = frozenset(ADJECTIVES)


def has_adjective(text: str) -> bool:
    """The linguistic feature: does the text hold one of the grammar's adjectives?"""
    return not _ADJECTIVE_SET.isdisjoint(_words(text))


def the_precedes_a(text: str) -> bool:
    """The surface feature: does the word 'the' occur, before any word 'a'?"""
    words = _words(text)
    if "the" not in words:
        return False
    return "a" not in words or words.index("the") < words.index("a")


def swap_articles(text: str) -> str:
    """The counterfactual: the first 'the' and the first 'a' trade places (capitals kept).

    This flips `the_precedes_a` exactly, whatever else the text holds: the word now at the
    earlier of the two positions is the other article, and none of its kind comes before it.
    Texts without both articles come back unchanged.
    """
    first = {}
    for match in re.finditer(r"\b(the|a)\b", text, flags=re.IGNORECASE):
        first.setdefault(match.group(1).lower(), match)
    if len(first) < 2:
        return text
    pieces, last = [], 0
    for match in sorted(first.values(), key=lambda m: m.start()):
        word = match.group(1)
        other = "a" if word.lower() == "the" else "the"
        pieces += [text[last:match.start()], other.capitalize() if word[0].isupper() else other]
        last = match.end()
    return "".join(pieces) + text[last:]
