"""An offline source of long news-wire sentences, standing in for CoNLL-2003 where it is absent.

TextLen only needs long English sentences to cut to a chosen length: what matters is the
token count, not the story. CoNLL-2003 (Reuters news) is not redistributable and cannot be
fetched here, so this module writes sentences of the same kind from a small grammar:
clauses about organisations, officials, markets and places (a few hundred ordinary words,
so BERT's tokenizer sees whole words), joined until the sentence is long enough. Tokens
follow CoNLL's convention: punctuation and "'s" are tokens of their own.

Two disjoint pools mirror CoNLL's files: "train" (eng.train) and "testa" (eng.testa). A
sentence belongs to one pool only, decided by a checksum of its text, so the pools never
share a sentence whatever their sizes.
"""
from __future__ import annotations

import random
import zlib

POOLS = ("train", "testa")

ORGANISATIONS = [
    "the European Commission", "the Bundesbank", "the central bank", "the finance ministry",
    "the United Nations", "the World Bank", "NATO", "the state oil company", "the Labour party",
    "the opposition", "the airline", "the car maker", "the chemicals group", "the steel company",
    "the federal court", "the stock exchange", "the trade union", "the police", "the army",
    "the government", "parliament", "the Treasury", "the insurer", "the mining group",
    "the bank 's board", "the football association", "the electricity board", "the port authority",
    "the International Monetary Fund", "the Red Cross", "the health ministry", "the telecoms group",
    "the shipping line", "the food company", "the rebel movement", "the election commission",
    "the supreme court", "the tobacco firm", "the textile industry", "the farmers ' union",
    "the Foreign Office", "the defence ministry", "the regional council", "the refinery",
]
OFFICIALS = [
    "Prime Minister John Major", "President Boris Yeltsin", "Chancellor Helmut Kohl",
    "Foreign Minister Klaus Kinkel", "a senior official", "a company spokesman",
    "a ministry spokeswoman", "the chief executive", "the finance director",
    "an analyst at a Frankfurt bank", "the coach", "the police chief", "a U.N. envoy",
    "the party leader", "a dealer in London", "the mayor", "Labour leader Tony Blair",
    "the central bank governor", "a government source", "the team captain", "President Bill Clinton",
    "Secretary of State Warren Christopher", "the union leader", "a Western diplomat",
    "the opposition leader", "the trade minister", "a senior economist", "the chairman",
    "a local resident", "the army commander", "a hospital doctor", "the defence lawyer",
    "the prosecutor", "the election observer", "a bond trader", "the club manager",
]
PLACES = [
    "Brussels", "Bonn", "London", "Paris", "Moscow", "Tokyo", "Washington", "Madrid", "Rome",
    "Jakarta", "Sydney", "Johannesburg", "Frankfurt", "New York", "Hong Kong", "Nairobi",
    "Buenos Aires", "Stockholm", "Warsaw", "Lisbon", "Colombo", "Ankara", "Seoul", "Mexico City",
    "Beijing", "Cairo", "Lagos", "Oslo", "Vienna", "Prague", "Budapest", "Athens", "Dublin",
    "Manila", "Bangkok", "Karachi", "Sarajevo", "Belgrade", "Kiev", "Toronto", "Chicago",
    "Sao Paulo", "Lima", "Santiago", "Harare", "Kinshasa", "Tehran", "Jerusalem", "Amman",
]
DAYS = [
    "on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "on Saturday",
    "on Sunday", "last week", "earlier this month", "late on Thursday", "this year",
    "last month", "in the morning", "at the weekend", "two days ago", "in August",
]
SAY = [
    "said", "told reporters", "told Reuters", "said in a statement", "announced", "warned",
    "confirmed", "added", "insisted", "reported", "denied", "stressed", "explained",
]
THINGS = [
    "the budget deficit", "interest rates", "the new tax plan", "exports", "the share price",
    "the peace talks", "the merger", "the strike", "the election result", "the trade agreement",
    "the bond market", "inflation", "the harvest", "fuel prices", "the ceasefire", "the court ruling",
    "the loan", "unemployment", "the currency", "profits", "the debt talks", "the final match",
    "the pension reform", "the privatisation", "coffee prices", "the wheat crop", "the refugee crisis",
    "the oil contract", "the railway project", "car sales", "the wage deal", "the power cuts",
    "the border dispute", "the drought", "the bank rescue", "the rescue package", "the investigation",
    "the takeover bid", "the referendum", "the spending cuts", "gold reserves", "the quarterly results",
]
CHANGES = ["rose", "fell", "climbed", "slipped", "jumped", "eased", "recovered", "dropped",
           "gained", "declined", "doubled", "steadied"]
ACTS = [
    "would cut", "planned to raise", "had rejected", "was studying", "would not change",
    "expected to sign", "had agreed to review", "would oppose", "had doubled", "would delay",
    "had approved", "wanted to cap", "could not confirm", "was ready to discuss", "had criticised",
    "would support", "was likely to extend", "had postponed", "hoped to complete", "refused to comment on",
]
UNITS = ["percent", "million dollars", "billion marks", "points", "million tonnes", "billion yen",
         "million pounds", "billion francs", "cents", "barrels a day"]
EVENTS = [
    "a bomb exploded", "heavy rain fell", "fighting broke out", "protesters gathered",
    "a fire destroyed a warehouse", "a train derailed", "troops were deployed", "voters went to the polls",
    "workers walked out", "an earthquake struck", "police arrested three men", "talks collapsed",
]
REASONS = [
    "weak demand", "strong exports", "political uncertainty", "higher costs", "a stronger dollar",
    "poor weather", "lower taxes", "fears of a recession", "rising wages", "a drop in orders",
]
LINKS = [", while", ", but", "and", ", after", "because", ", although", "as", ", adding that",
         ", and", "; meanwhile ,", ", even though", "before", "since"]
OPENERS = ["In", "Earlier", "Meanwhile ,", "However ,", "Separately ,", "Officials said that",
           "On the other hand ,", "According to analysts ,", "In a surprise move ,", "Last year ,"]


def _number(rng: random.Random) -> str:
    return rng.choice([str(rng.randint(2, 99)), f"{rng.randint(1, 9)}.{rng.randint(1, 9)}",
                       str(rng.randint(100, 990))])


def _clause(rng: random.Random) -> str:
    """One clause of news prose, tokens separated by single spaces."""
    actor = rng.choice(ORGANISATIONS + OFFICIALS)
    kind = rng.randrange(8)
    if kind == 0:
        return f"{actor} {rng.choice(SAY)} {rng.choice(DAYS)} it {rng.choice(ACTS)} {rng.choice(THINGS)}"
    if kind == 1:
        return (f"{rng.choice(THINGS)} {rng.choice(CHANGES)} {_number(rng)} {rng.choice(UNITS)} "
                f"in {rng.choice(PLACES)} {rng.choice(DAYS)}")
    if kind == 2:
        return f"{actor} {rng.choice(ACTS)} {rng.choice(THINGS)} in {rng.choice(PLACES)}"
    if kind == 3:
        return (f"{actor} in {rng.choice(PLACES)} {rng.choice(SAY)} {rng.choice(THINGS)} "
                f"{rng.choice(CHANGES)} to {_number(rng)} {rng.choice(UNITS)}")
    if kind == 4:
        return f"talks on {rng.choice(THINGS)} between {actor} and {rng.choice(ORGANISATIONS)} ended {rng.choice(DAYS)}"
    if kind == 5:
        return f"{rng.choice(EVENTS)} near {rng.choice(PLACES)} {rng.choice(DAYS)}"
    if kind == 6:
        return (f"{rng.choice(THINGS)} {rng.choice(CHANGES)} because of {rng.choice(REASONS)} , "
                f"{actor} {rng.choice(SAY)}")
    return f"{actor} met {rng.choice(OFFICIALS)} in {rng.choice(PLACES)} to discuss {rng.choice(THINGS)}"


def news_sentence(rng: random.Random, min_tokens: int = 30) -> list[str]:
    """One sentence of at least `min_tokens` tokens, as a token list (CoNLL style)."""
    opener = rng.choice(OPENERS)
    words = (f"{opener} {rng.choice(PLACES)} ," if opener == "In" else opener).split()
    words += _clause(rng).split()
    while len(words) < min_tokens:
        words += rng.choice(LINKS).split() + _clause(rng).split()
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
