"""An offline source of long news-wire sentences, standing in for CoNLL-2003 where it is absent.

TextLen only needs long English sentences to cut to a chosen length, but how many distinct
words they hold matters: with a few hundred words a model memorises the sentences instead of
reaching for the prefix shortcut. So this grammar writes clauses about people, organisations,
markets, places, sport and conflict from CoNLL's kinds of words (jobs/data/newswords.py):
people, towns and firms built from parts, and figures drawn at random, so that 1500 training
sentences cut to the TextLen lengths hold some 6000 distinct words, as CoNLL's do. Clauses are
joined until the sentence is long enough. Tokens follow CoNLL's convention: punctuation and
"'s" are tokens of their own.

Two disjoint pools mirror CoNLL's files: "train" (eng.train) and "testa" (eng.testa). A
sentence belongs to one pool only, decided by a checksum of its text, so the pools never
share a sentence whatever their sizes.
"""
from __future__ import annotations

import random
import zlib

from jobs.data import newswords as W

POOLS = ("train", "testa")
RESULTS_SHARE = 0.25  # sentences that are sports results lines
OPENER_SHARE = 0.35  # prose sentences that open with "Meanwhile ,", "In <place> ," ...


def surname(rng: random.Random) -> str:
    """A real surname, a built one (head + tail: 'Ashford'), or one with a foreign particle."""
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(W.SURNAMES)
    if roll < 0.5:
        return rng.choice(W.SURNAME_HEADS) + rng.choice(W.SURNAME_TAILS)
    if roll < 0.92:
        return foreign_name(rng)
    return f"{rng.choice(W.FOREIGN_PREFIXES)} {rng.choice(W.SURNAMES)}".replace("- ", "-").replace("' ", "'")


def foreign_name(rng: random.Random) -> str:
    """A name from syllables: onset + vowel (+ middle + vowel) + ending ('Karovic', 'Dumezini')."""
    name = rng.choice(W.ONSETS) + rng.choice(W.VOWELS)
    if rng.random() < 0.6:
        name += rng.choice(W.MIDDLES) + rng.choice(W.VOWELS)
    return name + rng.choice(W.MIDDLES) + rng.choice(W.ENDINGS)


def first_name(rng: random.Random) -> str:
    """A common first name, or one from syllables ('Davor', 'Kemala')."""
    if rng.random() < 0.65:
        return rng.choice(W.FIRST_NAMES)
    return rng.choice(W.ONSETS) + rng.choice(W.VOWELS) + rng.choice(W.MIDDLES) + rng.choice(W.FIRST_ENDINGS)


def person(rng: random.Random) -> str:
    """Someone as news names them: 'Anna Kessler', 'Finance Minister Anna Kessler', 'Kessler'."""
    roll = rng.random()
    if roll < 0.55:
        return f"{first_name(rng)} {surname(rng)}"
    if roll < 0.8:
        return f"{rng.choice(W.TITLES)} {first_name(rng)} {surname(rng)}"
    return surname(rng)


def place(rng: random.Random) -> str:
    """A capital or city, a country, or a town built from parts ('Kirkwood', 'Zhaliska')."""
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(W.PLACES)
    if roll < 0.5:
        return rng.choice(W.COUNTRIES)
    if roll < 0.75:
        return rng.choice(W.TOWN_HEADS) + rng.choice(W.TOWN_TAILS)
    return foreign_name(rng)


def organisation(rng: random.Random) -> str:
    """An institution, or a firm: a name (brand, surname or town) + a sector and/or a legal form."""
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(W.INSTITUTIONS)
    name = rng.choice([rng.choice(W.ORG_STEMS), surname(rng), place(rng), foreign_name(rng)])
    if roll < 0.6:
        return f"{name} {rng.choice(W.SECTORS)}"
    if roll < 0.8:
        return f"{name} {rng.choice(W.LEGAL_FORMS)}"
    return f"{name} {rng.choice(W.SECTORS)} {rng.choice(W.LEGAL_FORMS)}"


def actor(rng: random.Random) -> str:
    """Who does something: a person, an organisation, or a group ('Polish miners')."""
    roll = rng.random()
    if roll < 0.45:
        return person(rng)
    if roll < 0.85:
        return organisation(rng)
    return f"{rng.choice(W.NATIONALITIES)} {rng.choice(W.NOUNS)}"


def figure(rng: random.Random) -> str:
    """A number as Reuters prints one: '12', '4.35', '1,250', '1996', '3-1', '$ 45'."""
    kind = rng.randrange(7)
    if kind == 0:
        return str(rng.randint(2, 99))
    if kind == 1:
        return f"{rng.randint(0, 99)}.{rng.randint(0, 99):02d}"
    if kind == 2:
        return f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}"
    if kind == 3:
        return str(rng.randint(1900, 1997))
    if kind == 4:
        return f"{rng.randint(0, 6)}-{rng.randint(0, 6)}"
    if kind == 5:
        return f"{rng.randint(100, 9999)}"
    return f"{rng.randint(1, 9)}.{rng.randint(0, 9)}"


def thing(rng: random.Random) -> str:
    """What a clause is about: 'the steel talks', 'Japanese exports', 'the 1996 budget'."""
    roll = rng.random()
    if roll < 0.4:
        return f"the {rng.choice(W.NOUNS)}"
    if roll < 0.7:
        return f"the {rng.choice(W.ADJECTIVES)} {rng.choice(W.NOUNS)}"
    if roll < 0.85:
        return f"{rng.choice(W.NATIONALITIES)} {rng.choice(W.NOUNS)}"
    return f"the {rng.choice(W.NOUNS)} of {organisation(rng)}"


def _clause(rng: random.Random) -> str:
    """One clause of news prose, tokens separated by single spaces."""
    who, what, where, when = actor(rng), thing(rng), place(rng), rng.choice(W.TIMES)
    kind = rng.randrange(10)
    if kind == 0:
        return f"{who} {rng.choice(W.VERBS)} {when} it {rng.choice(W.ACTS)} {what}"
    if kind == 1:
        return (f"{what} {rng.choice(W.VERBS)} {rng.choice(W.ADVERBS)} {figure(rng)} {rng.choice(W.UNITS)} "
                f"in {where} {when}")
    if kind == 2:
        return f"{who} {rng.choice(W.ACTS)} {what} in {where}"
    if kind == 3:
        return (f"{who} in {where} {rng.choice(W.VERBS)} {what} {rng.choice(W.VERBS)} to {figure(rng)} "
                f"{rng.choice(W.UNITS)}")
    if kind == 4:
        return f"talks on {what} between {who} and {organisation(rng)} ended {when}"
    if kind == 5:
        return f"{rng.choice(W.EVENTS)} near {where} {when} , {person(rng)} {rng.choice(W.VERBS)}"
    if kind == 6:
        return f"{what} {rng.choice(W.VERBS)} because of {rng.choice(W.REASONS)} , {who} {rng.choice(W.VERBS)}"
    if kind == 7:
        return f"{who} {rng.choice(W.VERBS)} {person(rng)} in {where} to discuss {what}"
    if kind == 8:
        return (f"{place(rng)} {rng.choice(W.VERBS)} {place(rng)} {figure(rng)} in the {rng.choice(W.ADJECTIVES)} "
                f"{rng.choice(W.NOUNS)} {when} , with {person(rng)} {rng.choice(W.VERBS)} {figure(rng)}")
    return f"{person(rng)} of {organisation(rng)} {rng.choice(W.VERBS)} {figure(rng)} {rng.choice(W.UNITS)} {when}"


def team(rng: random.Random) -> str:
    """A club: a town or city, sometimes with its club word ('Kirkwood Rovers')."""
    name = place(rng) if rng.random() < 0.7 else foreign_name(rng)
    return f"{name} {rng.choice(W.CLUB_WORDS)}" if rng.random() < 0.4 else name


def _results(rng: random.Random, min_tokens: int) -> list[str]:
    """A sports results line, as CoNLL's many: scores, or a leaderboard of players and countries."""
    if rng.random() < 0.5:
        words = f"{rng.choice(W.NATIONALITIES)} {rng.choice(W.COMPETITIONS)} results :".split()
        while len(words) < min_tokens:
            words += f"{team(rng)} {rng.randint(0, 5)} {team(rng)} {rng.randint(0, 5)} ,".split()
        return words
    words = f"{rng.choice(W.ORDINALS)} round scores in the {place(rng)} {rng.choice(W.EVENTS_SPORT)} :".split()
    while len(words) < min_tokens:
        words += f"{rng.randint(60, 80)} {first_name(rng)} {surname(rng)} ( {place(rng)} ) ,".split()
    return words


def news_sentence(rng: random.Random, min_tokens: int = 30) -> list[str]:
    """One sentence of at least `min_tokens` tokens, as a token list (CoNLL style): prose
    clauses joined by links, or (one in RESULTS_SHARE) a sports results line."""
    if rng.random() < RESULTS_SHARE:
        words = _results(rng, min_tokens)
    else:
        words = []
        if rng.random() < OPENER_SHARE:
            opener = rng.choice(W.OPENERS)
            words = (f"{opener} {place(rng)} ," if opener == "In" else opener).split()
        words += _clause(rng).split()
        while len(words) < min_tokens:
            words += rng.choice(W.LINKS).split() + _clause(rng).split()
    if words[-1] in (",", ";"):  # a results line ends in its separator
        words.pop()
    words.append(".")
    words[0] = words[0][0].upper() + words[0][1:]
    return words


def news_sentences(n: int, pool: str = "train", seed: int = 2021, min_tokens: int = 30) -> list[list[str]]:
    """`n` distinct sentences (token lists, each >= `min_tokens` tokens) from one pool.

    pool: "train" (stands for CoNLL's eng.train) or "testa" (eng.testa); the two never share
    a sentence. Deterministic in (pool, seed); the first k sentences do not depend on n.
    """
    if pool not in POOLS:
        raise ValueError(f"unknown sentence pool '{pool}'; valid: {', '.join(POOLS)}")
    side = POOLS.index(pool)
    rng = random.Random(f"news-{pool}-{seed}")
    seen: set[str] = set()
    out: list[list[str]] = []
    while len(out) < n:
        tokens = news_sentence(rng, min_tokens)
        text = " ".join(tokens)
        # A checksum, not the rng, picks the pool: disjoint by construction.
        if zlib.crc32(text.encode()) % 2 == side and text not in seen:
            seen.add(text)
            out.append(tokens)
    return out
