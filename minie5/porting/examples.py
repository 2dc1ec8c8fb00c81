"""The e5-small-v2 model card's example texts, word for word: what `minie5 verify` compares on by
default, and the first golden texts of tools/make_golden.py."""

MODEL_CARD_TEXTS = [
    "query: how much protein should a female eat",
    "query: summit define",
    "passage: As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 is "
    "46 grams per day. But, as you can see from this chart, you'll need to increase that if you're training "
    "for a marathon. Check out the chart below to see how much protein you should be eating each day.",
    "passage: Definition of summit for English Language Learners. : 1  the highest point of a mountain : "
    "the top of a mountain. : 2  the highest level. : 3  a meeting or series of meetings between the "
    "leaders of two or more governments.",
]
