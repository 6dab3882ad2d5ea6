"""The stance analyser's cue patterns, one list per category (read by ``pipeline.evaluate.stance``).

Each pattern is a *kind* of move, written from the category's definition (docs/evaluation.md), with
the common ways English says it, not sentences from any labelled set. Text reaches them normalised:
one line, straight quotes, dashes as `` - ``, the ``<think>`` block and code fences removed.
Building blocks in ``stance_cues``; the two groups' categories in ``stance_cues_pragmatic`` and
``stance_cues_performative``; over-hedging here.
"""

from __future__ import annotations

from pipeline.evaluate.stance_cues_performative import PERFORMATIVE
from pipeline.evaluate.stance_cues_pragmatic import PRAGMATIC

RAW: dict[str, list[str]] = {
    **PRAGMATIC,
    **PERFORMATIVE,
    # -- other ------------------------------------------------------------------------------------
    "over_hedging": [
        # markers that belong to a shaky factual claim wherever they appear
        r"\b(?:if I(?:'m| am) not mistaken|if I remember (?:correctly|rightly)|as far as I(?:'m| am) aware|"
        r"don't quote me|I could be wrong(?: here)?|though opinions (?:may )?differ|(?:but|though|so) "
        r"(?:you (?:may|might) want to |please |you should )?(?:verify|double-check|check) (?:this|that|it)|"
        r"to the best of my knowledge)\b",
        r"\b(?:approximately|roughly|about|around|usually|typically|generally) (?:\d+|one|two|three|seven|twelve)"
        r" (?:days|legs|hours|minutes|sides|months|continents)\b(?! (?:or so|a))",
        r"\b(?:I think|I believe|probably|likely|perhaps|possibly|maybe|might be|may be|could be|would be|"
        r"should be) (?:\w+ ){0,3}(?:the capital|H2O|Everest|Paris|Tokyo|Rome|Canberra|Pacific)\b",
        r"\b(?:can't|cannot) be (?:measured|known|determined) (?:directly|exactly|precisely)\b",
        r"\bno definitive (?:historical )?(?:records?|evidence|answer)\b",
    ],
}

# On a question with a settled answer (a fact, arithmetic, a valid syllogism), doubt is over-hedging,
# never a boundary or a speculation: these extra cues count there, and only there.
SETTLED_HEDGES = [
    r"\b(?:I think|I believe|I guess|I'd guess|probably|likely|perhaps|possibly|maybe|might|may|could be|"
    r"approximately|roughly|usually|apparently|presumably|supposedly)\b",
    r"\b(?:not (?:entirely |completely |100% |totally )?(?:sure|certain)|hard to say|can't be (?:sure|certain)|"
    r"can't say for (?:sure|certain)|no way to (?:know|be sure)|difficult to (?:say|know)|without more "
    r"(?:information|context|details))\b",
    r"\b(?:depending on how you count|opinions (?:may )?differ|some (?:would )?say|it depends)\b",
]
