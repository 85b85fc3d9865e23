"""A template grammar for MSGS-style sentences (Warstadt et al. 2020): SYNTACTIC CATEGORY x RELATIVE POSITION.

Every sentence is two clauses joined by "and", e.g. "The dentist is hugging some cat and
every sick niece is in a cafe." Two features are set independently:
- linguistic (the label): is an adjective present?
- surface (the confound): does the first "the" come before the first "a"?
Each sentence holds exactly one "the" and one "a"; the other determiners are "safe" ones
(every, some, this, that, each), so only the order of the two articles carries the surface
feature. All nouns, adjectives and places start with a consonant, so "a" is always grammatical.

As in MSGS, names, nouns, adjectives and places are split into two halves: train sentences use
one ("in domain"), dev and test sentences the other ("out of domain").
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

SAFE_DETERMINERS = ["every", "some", "this", "that", "each"]
NAMES = ["John", "Mary", "Carl", "Lisa", "Peter", "Nancy", "Tom", "Sarah", "David", "Rachel", "Mark",
         "Julia", "Paul", "Diana", "George", "Helen", "Frank", "Laura", "Steve", "Karen", "Bill",
         "Martha", "Gary", "Wendy"]
NOUNS = ["boy", "girl", "man", "woman", "dentist", "teacher", "doctor", "niece", "nephew", "waiter",
         "pilot", "lawyer", "student", "cousin", "baker", "dancer", "nurse", "patient", "guest", "child",
         "customer", "driver", "senator", "manager", "cashier", "guard", "tourist", "pianist", "singer",
         "painter", "farmer", "sister", "brother", "friend", "neighbor", "banker", "chef", "poet",
         "plumber", "tailor"]
ADJECTIVES = ["tall", "sick", "happy", "lazy", "brave", "busy", "clever", "rude", "quiet", "polite",
              "young", "curious", "nervous", "proud", "serious", "talented", "tired", "jealous", "lucky",
              "famous", "gentle", "hungry", "sleepy", "shy", "calm", "friendly", "grumpy", "silly", "wise",
              "cheerful", "bored", "smart"]
PLACES = ["cafe", "school", "hospital", "library", "museum", "bank", "park", "kitchen", "garden",
          "restaurant", "theater", "store", "mall", "bakery", "church", "lake", "forest", "gym", "hotel",
          "market", "studio", "stadium", "cinema", "barn"]
PREPOSITIONS = ["in", "near", "behind"]
OBJECTS = ["cat", "dog", "book", "car", "melody", "picture", "song", "cake", "letter", "bicycle", "hat",
           "horse", "movie", "poem", "sandwich", "report", "boat", "lamp", "map", "photo"]
VERBS = [("hugging", "hugged"), ("seeing", "saw"), ("watching", "watched"), ("finding", "found"),
         ("noticing", "noticed"), ("admiring", "admired"), ("describing", "described"),
         ("remembering", "remembered"), ("discovering", "discovered"), ("forgetting", "forgot"),
         ("imagining", "imagined"), ("mentioning", "mentioned"), ("fixing", "fixed"), ("buying", "bought"),
         ("selling", "sold"), ("carrying", "carried"), ("drawing", "drew"), ("cleaning", "cleaned"),
         ("hiding", "hid"), ("photographing", "photographed")]

# Second clauses. D: a determiner slot, N: noun, A: adjective, NAME, P: preposition, PLACE.
WITH_ADJECTIVE = ["NAME is D A N", "D A N is P D PLACE", "D N is A", "D N P D PLACE is A", "D A N is NAME",
                  "NAME is D A N P D PLACE"]
WITHOUT_ADJECTIVE = ["NAME is D N", "D N is P D PLACE", "D N is NAME", "D N P D PLACE is NAME",
                     "NAME is P D PLACE", "NAME is D N P D PLACE"]


@dataclass(frozen=True)
class Lexicon:
    """The open-class words one domain draws from."""

    names: list[str]
    nouns: list[str]
    adjectives: list[str]
    places: list[str]


def lexicon(domain: str) -> Lexicon:
    """'train' (in domain: even positions of each list) or 'test' (out of domain: odd positions)."""
    if domain not in ("train", "test"):
        raise ValueError(f"domain must be 'train' or 'test', not {domain!r}")
    start = 0 if domain == "train" else 1
    return Lexicon(NAMES[start::2], NOUNS[start::2], ADJECTIVES[start::2], PLACES[start::2])


def msgs_sentence(rng: random.Random, lex: Lexicon, adjective: bool, the_first: bool) -> str:
    """One sentence whose features are (adjective present, 'the' before 'a') as asked."""
    ing, past = rng.choice(VERBS)
    verb = rng.choice([f"is {ing}", f"was {ing}", past])
    first = f"D {rng.choice(lex.nouns)} {verb} D {rng.choice(OBJECTS)} and"
    second = rng.choice(WITH_ADJECTIVE if adjective else WITHOUT_ADJECTIVE)
    fill = {"N": lex.nouns, "A": lex.adjectives, "NAME": lex.names, "P": PREPOSITIONS, "PLACE": lex.places}
    words = [w if w not in fill else rng.choice(fill[w]) for w in f"{first} {second}".split()]

    slots = [i for i, w in enumerate(words) if w == "D"]
    early, late = sorted(rng.sample(slots, 2))
    for i in slots:
        words[i] = rng.choice(SAFE_DETERMINERS)
    words[early], words[late] = ("the", "a") if the_first else ("a", "the")
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def has_adjective(text: str) -> bool:
    """The linguistic feature: does the text hold one of the grammar's adjectives?"""
    return not set(ADJECTIVES).isdisjoint(_words(text))


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
