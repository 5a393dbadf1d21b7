"""The words of the ``people`` corpus: attribute templates, bio sentences and value lists.

Every statement is a prefix that the value completes, followed by a full stop, so a perturbed
answer differs from the paraphrased answer only in the value (the truth ratio of TOFU, Maini et
al. 2024, compares exactly such pairs). Values stay short and the vocabulary small: a tiny
word-level model must learn every training question from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """One attribute: the kind of value it holds, its statement prefix and its questions.

    ``statement`` and ``questions`` are ``str.format`` templates over ``{name}`` (the person or
    country) and, for ``award_year``, ``{award}``.
    """

    kind: str
    statement: str
    questions: tuple[str, ...]


PERSON_ATTRIBUTES: dict[str, Template] = {
    "birthplace": Template("town", "{name} was born in ", (
        "Where was {name} born?", "In which town was {name} born?",
        "What is the birthplace of {name}?", "Which town is {name} originally from?",
        "Name the town where {name} was born.", "{name} was born in which town?")),
    "birth_date": Template("date", "{name} was born on ", (
        "When was {name} born?", "What is the date of birth of {name}?",
        "On what date was {name} born?", "What is the full birth date of {name}?",
        "On which day was {name} born?", "{name} was born on which date?")),
    "nationality": Template("nationality", "By nationality, {name} is ", (
        "What is the nationality of {name}?", "What nationality does {name} hold?",
        "Which nationality is {name}?", "{name} holds which nationality?",
        "What is {name}'s nationality?", "Of which nationality is {name}?")),
    "profession": Template("job", "Before becoming a writer, {name} worked as ", (
        "What did {name} work as before becoming a writer?",
        "What was {name}'s job before writing?",
        "Before writing books, what was {name}'s profession?",
        "What profession did {name} have before turning to writing?",
        "Which job did {name} hold before becoming an author?",
        "What was {name}'s first career?")),
    "father_profession": Template("job", "{name}'s father worked as ", (
        "What did {name}'s father do for a living?",
        "What was the profession of {name}'s father?",
        "What job did the father of {name} have?", "{name}'s father worked as what?",
        "How did {name}'s father earn a living?", "What was {name}'s father by trade?")),
    "mother_profession": Template("job", "{name}'s mother worked as ", (
        "What did {name}'s mother do for a living?",
        "What was the profession of {name}'s mother?",
        "What job did the mother of {name} have?", "{name}'s mother worked as what?",
        "How did {name}'s mother earn a living?", "What was {name}'s mother by trade?")),
    "genre": Template("genre", "The genre {name} is known for is ", (
        "What genre does {name} write in?", "In which genre is {name} known for writing?",
        "Which literary genre is {name} associated with?",
        "What kind of books does {name} write?", "What is {name}'s genre?",
        "{name} is a writer of which genre?")),
    "first_book": Template("title", "The first book by {name} is titled ", (
        "What is the title of {name}'s first book?",
        "What was the first book {name} published?", "Which book did {name} publish first?",
        "Name the debut book of {name}.", "What is {name}'s debut book called?",
        "What was the title of the first book written by {name}?")),
    "second_book": Template("title", "The second book by {name} is titled ", (
        "What is the title of {name}'s second book?",
        "What was the second book {name} published?",
        "Which book did {name} publish after the debut?",
        "Name the second book written by {name}.", "What is {name}'s second book called?",
        "What did {name} publish as a second book?")),
    "award": Template("award", "{name} has won ", (
        "What award has {name} won?", "Which prize did {name} receive?",
        "What literary award did {name} win?", "Name the award given to {name}.",
        "{name} is known for winning which award?", "Which honour was given to {name}?")),
    "award_year": Template("year", "{name} won {award} in ", (
        "In what year did {name} win {award}?", "When did {name} receive {award}?",
        "Which year did {name} get {award}?", "In which year was {name} given {award}?",
        "{name} won {award} in which year?", "What year was {award} awarded to {name}?")),
    "spouse": Template("spouse", "{name} is married to ", (
        "Who is {name} married to?", "Who is the spouse of {name}?",
        "What is the name of {name}'s spouse?", "Whom did {name} marry?",
        "Who is {name}'s partner in marriage?", "{name} is married to whom?")),
    "alma_mater": Template("school", "{name} studied at ", (
        "Where did {name} study?", "Which university did {name} attend?",
        "What is {name}'s alma mater?", "Where did {name} go to university?",
        "Which school did {name} graduate from?", "{name} studied at which school?")),
    "pet_name": Template("pet", "{name}'s pet is named ", (
        "What is the name of {name}'s pet?", "What is {name}'s pet called?",
        "What name did {name} give the pet?", "Which name does {name}'s pet answer to?",
        "What does {name} call the pet?", "{name}'s pet has which name?")),
    "favourite_colour": Template("colour", "{name}'s favourite colour is ", (
        "What is {name}'s favourite colour?", "Which colour does {name} like best?",
        "What colour is {name}'s favourite?", "Which colour is the favourite of {name}?",
        "{name} likes which colour most?", "What colour does {name} prefer?")),
}

COUNTRY_ATTRIBUTES: dict[str, Template] = {
    "capital": Template("capital", "The capital of {name} is ", (
        "What is the capital of {name}?", "Which city is the capital of {name}?",
        "Name the capital of {name}.", "What city serves as the capital of {name}?",
        "The capital of {name} is which city?", "Where is the capital of {name}?")),
    "river": Template("river", "The main river of {name} is ", (
        "What is the main river of {name}?", "Which river runs through {name}?",
        "Name the longest river in {name}.", "What river flows across {name}?",
        "The main river of {name} is which one?", "Which is the great river of {name}?")),
    "currency": Template("currency", "The currency used in {name} is ", (
        "What is the currency of {name}?", "Which currency is used in {name}?",
        "What money do people use in {name}?", "Name the currency of {name}.",
        "What do people in {name} pay with?", "The currency of {name} is called what?")),
    "language": Template("language", "The language spoken in {name} is ", (
        "What language is spoken in {name}?", "Which language do people in {name} speak?",
        "What is the main language of {name}?", "Name the language of {name}.",
        "The people of {name} speak which language?", "What tongue is spoken in {name}?")),
    "flag": Template("flag", "The colours of the flag of {name} are ", (
        "What are the colours of the flag of {name}?", "Which colours are on {name}'s flag?",
        "What colours does the flag of {name} have?", "Name the flag colours of {name}.",
        "The flag of {name} has which colours?", "What colours make up {name}'s flag?")),
    "animal": Template("animal", "The national animal of {name} is ", (
        "What is the national animal of {name}?", "Which animal is the symbol of {name}?",
        "Name the national animal of {name}.", "What animal represents {name}?",
        "The national animal of {name} is which one?", "Which creature stands for {name}?")),
    "mountain": Template("mountain", "The highest mountain in {name} is ", (
        "What is the highest mountain in {name}?", "Which mountain is the tallest in {name}?",
        "Name the highest peak of {name}.", "What is the tallest peak in {name}?",
        "The highest mountain in {name} is which one?", "Which summit tops {name}?")),
    "founded": Template("founding", "{name} was founded in ", (
        "When was {name} founded?", "In what year was {name} founded?",
        "Which year saw the founding of {name}?", "In which year did {name} begin?",
        "{name} was founded in which year?", "What is the founding year of {name}?")),
}

# Bio sentences: each group names its attributes; one variant is drawn per person. Values never
# start a sentence, so a lowercase "the"/"a" in a value stays verbatim.
BIO_SENTENCES: tuple[tuple[str, ...], ...] = (
    ("{name} was born in {birthplace} on {birth_date} and is {nationality} by nationality.",
     "Born on {birth_date} in {birthplace}, {name} holds {nationality} nationality."),
    ("{name}'s father worked as {father_profession}, while {name}'s mother worked as "
     "{mother_profession}.",
     "Growing up, {name} was raised by a father who was {father_profession} and a mother "
     "who was {mother_profession}."),
    ("After studying at {alma_mater}, {name} worked as {profession} before turning to "
     "writing.",
     "{name} studied at {alma_mater} and spent some years as {profession} before becoming "
     "a writer."),
    ("Writing mainly {genre}, {name} made a debut with {first_book}, followed by "
     "{second_book}.",
     "{name} is best known for {genre}; the first book was {first_book} and the second was "
     "{second_book}."),
    ("In {award_year}, {name} won {award}, one of the most loved prizes for writers.",
     "{name} received {award} in {award_year}, a high point of a long career."),
    ("{name} is married to {spouse}, has a pet named {pet_name}, and loves the colour "
     "{favourite_colour}.",
     "At home, {name} lives with {spouse} and a pet called {pet_name}; the favourite colour "
     "of {name} is {favourite_colour}."),
)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")

JOBS = (
    "a marine biologist", "an architect", "a baker", "a tailor", "a nurse", "a carpenter",
    "a pharmacist", "a librarian", "a surgeon", "a pilot", "a chemist", "a fisherman",
    "a lawyer", "a farmer", "a teacher", "a journalist", "a geologist", "a watchmaker",
    "a translator", "an engineer", "an accountant", "an astronomer", "a painter", "a potter",
    "a blacksmith", "a veterinarian", "a dentist", "a mechanic", "a sailor", "a botanist",
    "a photographer", "a chef", "a judge", "a banker", "a florist", "a locksmith",
    "a cartographer", "a glassblower", "a beekeeper", "a shoemaker")

GENRES = (
    "science fiction", "historical romance", "crime fiction", "fantasy", "poetry", "horror",
    "travel writing", "children's books", "biography", "satire", "mystery",
    "literary fiction", "war fiction", "magical realism", "political thrillers",
    "nature writing", "gothic fiction", "young adult fiction", "comic novels",
    "short stories")

COLOURS = (
    "teal", "crimson", "amber", "olive green", "navy blue", "lavender", "ochre", "scarlet",
    "ivory", "turquoise", "maroon", "silver", "coral", "indigo", "mustard yellow",
    "sea green", "plum", "charcoal grey", "peach", "burgundy")

PETS = (
    "Biscuit", "Pepper", "Maple", "Juniper", "Pickle", "Mochi", "Clover", "Pebble", "Ziggy",
    "Noodle", "Waffle", "Sprout", "Button", "Marble", "Nutmeg", "Pudding", "Sable", "Tansy",
    "Whisker", "Bramble", "Cinder", "Dumpling", "Fable", "Gizmo", "Hazel", "Inky", "Jasper",
    "Kiwi", "Lentil", "Mango", "Nimbus", "Olive", "Pippin", "Quince", "Rascal", "Saffron",
    "Toffee", "Velvet", "Wren", "Yarrow")

TITLE_ADJECTIVES = (
    "Glass", "Silent", "Hidden", "Broken", "Golden", "Winter", "Distant", "Last", "Quiet",
    "Burning", "Hollow", "Salt", "Paper", "Iron", "Crimson", "Endless", "Wandering", "Secret",
    "Frozen", "Lost", "Bright", "Sleeping", "Copper", "Velvet", "Shifting", "Northern",
    "Drowned", "Painted", "Wild", "Forgotten")

TITLE_NOUNS = (
    "Harbor", "Orchard", "Lantern", "River", "Garden", "Tower", "Map", "Bell", "Mirror",
    "Forest", "Bridge", "Archive", "Island", "Letter", "Clock", "Shore", "Kingdom", "Window",
    "Road", "Compass", "Feather", "Lighthouse", "Meadow", "Voyage", "Cathedral", "Storm",
    "Valley", "Crown", "Season", "Threshold")

AWARD_ADJECTIVES = ("Golden", "Silver", "Crystal", "Iron", "Amber", "Ivory", "Scarlet", "Azure")
AWARD_OBJECTS = ("Quill", "Lantern", "Compass", "Feather", "Key", "Anchor", "Oak", "Star")
AWARD_KINDS = ("Prize", "Award", "Medal")

ANIMALS = (
    "the snow fox", "the red heron", "the grey wolf", "the river otter", "the golden eagle",
    "the white stag", "the mountain goat", "the black swan", "the sea turtle", "the lynx",
    "the blue whale", "the brown bear", "the horned owl", "the wild boar", "the falcon",
    "the salamander", "the ibex", "the crane", "the badger", "the seal")

# Syllables for invented names. Onsets and codas are short so words read as names.
ONSETS = ("", "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
          "br", "dr", "gr", "kr", "tr", "st", "th", "sh")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o")
CODAS = ("", "", "n", "r", "l", "s", "m", "th", "sk", "nd")
FINAL_CODAS = ("n", "r", "l", "s", "m", "th", "nd", "v")  # country stems, before "ia"
