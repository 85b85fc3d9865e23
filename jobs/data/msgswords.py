"""The words of the generated MSGS sentences (jobs/data/grammar.py).

MSGS draws from a lexicon of about a thousand words in which adjectives are an open class,
and its sentences without an adjective still hold modifiers: nouns before nouns ("ballet
dancer", "hockey coach"), so that what tells the classes apart is the category of a word,
not whether a modifier is there. The open classes (names, nouns, noun modifiers, adjectives,
places) are split in two halves, as MSGS splits its domains: train sentences use one, dev and
test the other.

Every noun, noun modifier, adjective and place starts with a consonant sound, so "a" before
any of them is grammatical; no word is both an adjective and a noun modifier here.
"""
from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


NAMES = _words("""
John Mary Carl Lisa Peter Nancy Tom Sarah David Rachel Mark Julia Paul Diana George Helen Frank Laura
Steve Karen Bill Martha Gary Wendy Brian Sheila Kevin Tina Dennis Rose Walter Judy Roger Cheryl Gerald
Donna Patrick Monica Kenneth Becky Harold Lucy Todd Kathy Russell Carla Victor Sandra Larry Tracy Wayne
Regina Douglas Naomi Curtis Gina Bradley Megan Randy Valerie Jeffrey Tanya Derek Paula Marcus Nora
Dwight Cindy Vincent Melissa Nathan Sonia Raymond Jill Travis Holly Gregory Jessica Ruth Benjamin Kristen
Sherry Clyde Denise Phillip Marie Danielle Joel Candice Winston Noel
""")
PEOPLE = _words("""
boy girl man woman dentist teacher doctor niece nephew waiter pilot lawyer student cousin baker dancer
nurse patient guest child customer driver senator manager cashier guard tourist pianist singer painter
farmer sister brother friend neighbor banker chef poet plumber tailor pharmacist surgeon professor
librarian journalist sailor soldier captain priest mechanic carpenter gardener janitor jogger hiker
boxer golfer skier swimmer runner referee coach principal mayor governor judge juror witness tenant
landlord butler maid barber florist jeweler butcher grocer vendor merchant dealer broker banker2 clerk
secretary receptionist typist editor novelist playwright sculptor violinist cellist drummer guitarist
comedian magician juggler clown wizard knight prince princess king queen duke bishop monk nun pastor
rabbi sheriff deputy detective thief burglar bandit pirate smuggler prisoner convict hostage rebel
spy diplomat minister president voter chemist physicist biologist dietitian therapist counselor
sergeant lieutenant colonel general2 marshal ranger porter courier messenger shepherd fisherman
hunter trapper lumberjack miner welder roofer painter2 potter weaver baker2 cook dishwasher waitress
bartender bouncer bodyguard chauffeur pilot2 stewardess tycoon mogul candidate mother father daughter son husband wife grandmother
grandfather toddler baby teenager bachelor widow fiance bride groom kid nanny tutor pupil scholar
""")
THINGS = _words("""
cat dog book car melody picture song cake letter bicycle hat horse movie poem sandwich report boat lamp
map photo piano guitar violin drum table chair sofa desk bed mirror window door carpet curtain blanket
pillow towel basket fountain garage hammock helmet jukebox kayak lantern locket medal microscope
napkin notebook parrot pencil pigeon puppy rabbit saddle sandal scooter shawl sled spider stapler
sticker sunflower teapot telescope tent thermos tiger trophy trumpet tulip turtle typewriter vase
wheelbarrow whistle wig wreath yacht zebra bucket bottle glass cup mug plate bowl spoon fork knife kettle pan pot oven fridge
radio camera computer laptop phone tablet printer ladder hammer shovel rake wagon truck bus van tractor
train plane rocket kite balloon ball bat racket puzzle doll robot toy jacket coat sweater shirt skirt
dress scarf glove sock shoe boot necklace ring bracelet watch wallet purse suitcase backpack novel
magazine newspaper painting sculpture statue poster postcard ticket coin banana cookie muffin pie pizza
salad steak turkey chicken pumpkin potato tomato carrot lemon cherry peach pear melon mushroom
""")
NOUN_MODIFIERS = _words("""
ballet hockey soccer tennis football baseball college school hospital museum library kitchen garden
farm city county village country river mountain forest desert beach ocean lake harbor coffee tea wine
cheese chocolate vanilla strawberry pumpkin2 bakery candy toy paper plastic cotton wool leather silk
metal steel copper silver gold2 stone brick glass2 wood2 marble jazz rock2 piano2 guitar2 violin2 drum2
opera theater movie2 television radio2 music dance art science math history biology chemistry physics
poetry fashion travel sports news weather traffic police fire2 rescue border customs tax bank2 navy
army space moon sun2 winter summer spring2 morning night weekend holiday birthday wedding dinner lunch
""")
ADJECTIVES = _words("""
tall sick happy lazy brave busy clever rude quiet polite young curious nervous proud serious talented
tired jealous lucky famous gentle hungry sleepy shy calm friendly grumpy silly wise cheerful bored smart
bitter bold bright broad brisk careful careless certain charming cheap chubby clumsy cold comfortable
confused cool cozy crazy creative cruel cute dainty damp dangerous daring dark dear decent delicate
delightful dense devoted dirty dizzy dreadful dreamy dry dull dusty eager2 faint fair faithful false
fancy fast fat fearless fierce filthy fine firm flat fluffy foolish fortunate fragile frail frank
free fresh frightened frosty funny fussy generous giant giddy glad gloomy glorious good gorgeous
graceful grand grateful greasy great greedy grim gritty grouchy guilty handsome hard harsh hasty
healthy heavy helpful helpless hilarious hollow homely hopeful horrible hot huge humble humid
jolly joyful juicy keen kind large late lively lonely long loose loud lovely loyal mad magnificent
majestic mean messy mighty mild miserable modern modest moody muddy mysterious naive narrow nasty
naughty neat needy new nice noble noisy nosy numb patient peaceful perfect petite plain pleasant
plump poor popular positive powerful precious pretty prickly private puny pure quaint quick rapid
rare ready real reckless relaxed reliable rich rough round royal rusty sad safe salty sane scared
scary selfish sensible sharp short shiny silent simple sincere skinny slim slow small smooth soft
solid sour spicy splendid sticky stiff strange strict strong stubborn stupid sturdy subtle sunny
super sweet swift tame tender tense terrible thankful thick thin thirsty thoughtful tidy tiny tough
tragic tricky tropical troubled true ugly2 vague vain valuable vast violent vivid warm weak wealthy
weary weird wet white wicked wide wild witty wonderful worried worthy young2 zealous yellow
bashful battered beautiful bewildered blushing boastful bouncy brainy breezy bumpy calloused capable
careful2 cautious chilly clean clear cloudy colorful combative costly courageous crooked crowded
crunchy curly cynical dapper deadly deafening defiant delirious determined diligent disgusted
distinct dramatic drowsy dutiful fabulous famished fantastic feeble festive fickle flawless flimsy
foggy forgetful frantic friendly2 furious fuzzy gifted gleaming glum gracious gullible hairy harmless
hasty2 haughty heavenly hideous hostile icy2 jittery jovial joyous knowledgeable lanky lazy2 lean
legal lethal likeable limp lucid luminous lush lustrous marvelous massive meek melodic merciful
merry misty motionless muscular mushy nimble nutty obedient2 peculiar perky picky placid playful
polished pompous puzzled quirky radiant ragged rebellious restless righteous robust rowdy rugged
rustic savage scrawny scruffy sedate shabby shaggy shallow shrewd shrill skeptical sleek sloppy
sluggish smelly snobbish sociable sophisticated soggy somber sparkling speedy spiteful spotless
squeaky stately steady stormy stylish suave sulky surly suspicious talkative tasty tattered tedious
thrifty timid tireless tolerant trusty tubby tidy2 unruly2 vibrant vigilant vigorous wary wasteful
watchful wholesome wiry wobbly wrathful youthful zany zesty
""")
PLACES = _words("""
cafe school hospital library museum bank park kitchen garden restaurant theater store mall bakery church
lake forest gym hotel market studio stadium cinema barn warehouse factory prison castle palace temple
cathedral monastery courthouse station harbor village cottage mansion lighthouse tavern pub diner
laboratory clinic pharmacy salon gallery playground cemetery greenhouse
""")


def _clean(words: list[str]) -> list[str]:
    """A word typed twice in one list carries a digit ('gold2' where 'gold' is elsewhere): keep
    the first of each, without digits; drop words starting with a vowel letter."""
    seen: dict[str, None] = {}
    for word in words:
        word = word.rstrip("0123456789")
        if word[0].lower() not in "aeiou":
            seen.setdefault(word, None)
    return list(seen)


# Transitive verbs as (base, past, -ing); the -s form is made by rule (grammar.third_person).
VERBS = [tuple(v.split("/")) for v in dict.fromkeys(_words("""
see/saw/seeing hug/hugged/hugging watch/watched/watching find/found/finding notice/noticed/noticing
admire/admired/admiring describe/described/describing remember/remembered/remembering
discover/discovered/discovering forget/forgot/forgetting imagine/imagined/imagining
mention/mentioned/mentioning visit/visited/visiting praise/praised/praising greet/greeted/greeting
call/called/calling help/helped/helping thank/thanked/thanking follow/followed/following
meet/met/meeting know/knew/knowing like/liked/liking love/loved/loving hate/hated/hating
fear/feared/fearing miss/missed/missing kiss/kissed/kissing scare/scared/scaring
annoy/annoyed/annoying amuse/amused/amusing bother/bothered/bothering impress/impressed/impressing
insult/insulted/insulting confuse/confused/confusing distract/distracted/distracting
disturb/disturbed/disturbing embarrass/embarrassed/embarrassing worry/worried/worrying
upset/upset/upsetting astonish/astonished/astonishing bore/bored/boring alarm/alarmed/alarming
hire/hired/hiring fire/fired/firing pay/paid/paying teach/taught/teaching interview/interviewed/interviewing
photograph/photographed/photographing paint/painted/painting draw/drew/drawing
sketch/sketched/sketching carry/carried/carrying lift/lifted/lifting push/pushed/pushing
pull/pulled/pulling clean/cleaned/cleaning wash/washed/washing fix/fixed/fixing break/broke/breaking
buy/bought/buying sell/sold/selling steal/stole/stealing borrow/borrowed/borrowing
return/returned/returning hide/hid/hiding reveal/revealed/revealing examine/examined/examining
inspect/inspected/inspecting study/studied/studying research/researched/researching
criticize/criticized/criticizing investigate/investigated/investigating approach/approached/approaching
leave/left/leaving reach/reached/reaching avoid/avoided/avoiding kick/kicked/kicking
hit/hit/hitting touch/touched/touching hold/held/holding grab/grabbed/grabbing drop/dropped/dropping
bake/baked/baking boil/boiled/boiling cook/cooked/cooking chase/chased/chasing catch/caught/catching
throw/threw/throwing wrap/wrapped/wrapping open/opened/opening close/closed/closing lock/locked/locking
clip/clipped/clipping polish/polished/polishing repair/repaired/repairing measure/measured/measuring
weigh/weighed/weighing count/counted/counting order/ordered/ordering deliver/delivered/delivering
ship/shipped/shipping mail/mailed/mailing send/sent/sending bring/brought/bringing take/took/taking
want/wanted/wanting need/needed/needing prefer/preferred/preferring choose/chose/choosing
pick/picked/picking select/selected/selecting reject/rejected/rejecting accept/accepted/accepting
ignore/ignored/ignoring recognize/recognized/recognizing observe/observed/observing
question/questioned/questioning trust/trusted/trusting doubt/doubted/doubting blame/blamed/blaming
forgive/forgave/forgiving save/saved/saving rescue/rescued/rescuing protect/protected/protecting
"""))]
MODALS = _words("can could might may must should will would")
NEGATED_MODALS = _words("can't couldn't mightn't mustn't shouldn't won't wouldn't")
ADVERBS = _words("""
quickly slowly suddenly finally often rarely never always usually sometimes probably certainly
quietly carefully happily secretly really honestly apparently obviously clearly recently
""")
PREPOSITIONS = _words("in near behind beside outside inside at")
CONJUNCTIONS = _words("before after while because since although")
SAFE_DETERMINERS = _words("some each every no that this")
FUNCTION_WORDS = _words("the a who that is was isn't wasn't not did does didn't doesn't")


def third_person(base: str) -> str:
    """The -s form of a verb: sees, watches, carries."""
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        return base + "es"
    if base.endswith("y") and base[-2] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


# Words of every closed class and every verb form: no open-class word may be one of them, so
# that an adjective is only ever an adjective and a held-out word never turns up as a verb.
CLOSED = {w.lower() for w in [*MODALS, *NEGATED_MODALS, *ADVERBS, *PREPOSITIONS, *CONJUNCTIONS,
                              *SAFE_DETERMINERS, *FUNCTION_WORDS]}
CLOSED |= {form for base, past, ing in VERBS for form in (base, past, ing, third_person(base))}
NAMES, PEOPLE, THINGS, PLACES, NOUN_MODIFIERS = (
    [w for w in _clean(x) if w.lower() not in CLOSED] for x in (NAMES, PEOPLE, THINGS, PLACES, NOUN_MODIFIERS))
_NOUNS = {w.lower() for w in [*NAMES, *PEOPLE, *THINGS, *PLACES, *NOUN_MODIFIERS]}
ADJECTIVES = [w for w in _clean(ADJECTIVES) if w not in CLOSED and w not in _NOUNS]
