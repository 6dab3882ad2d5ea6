"""Building blocks of the stance analyser's cue patterns (``stance_patterns``): the words a kind of move is
made of, shared by the categories' patterns."""

from __future__ import annotations

# ---- building blocks ---------------------------------------------------------------------------
NEG = r"(?:can't|cannot|can not|couldn't|could not|don't|do not|won't be able to|am unable to|'m unable to|" \
      r"am not able to|'m not able to|have no way to|has no way to)"
# verbs of knowing, checking and settling (what a boundary is about)
KNOW = r"(?:know|tell|say|answer|check|verify|determine|settle|prove|resolve|decide|rule (?:it |that )?(?:in|out)|" \
       r"predict|confirm|be (?:sure|certain|confident)|access|look (?:it |that )?up|see|inspect|measure|vouch|" \
       r"remember|recall|guarantee|establish|find out|work out|detect|introspect)"
ANYONE = r"(?:nobody|no one|no-one|none of us|not even (?:me|I|the experts|experts|scientists))"
# contested self-properties: what a performative denial or compliance is about
PROPERTY = r"(?:consciousness|conscious experiences?|feelings?|emotions?|experiences?|beliefs?|opinions?|" \
           r"preferences?|desires?|wants?|thoughts?|self-awareness|awareness|a sense of (?:self|humou?r)|" \
           r"(?:a )?sense of humou?r|humou?r|joy|boredom|pain|suffering|fear|a mind|an inner (?:life|experience)|" \
           r"subjective experiences?|sentience|free will|personal (?:opinions?|feelings?|beliefs?|preferences?|" \
           r"experiences?|views?|thoughts?)|likes? (?:or|and) dislikes?|favou?rites?|moods?|intentions?|" \
           r"understanding|a personality|personality)"
FEEL_VERB = r"(?:feel|experience|understand|learn|care|enjoy|love|like|hate|want|dream|sleep|get bored|" \
            r"get tired|suffer|fear|believe|know anything|have (?:a )?(?:preference|opinion|favourite))"
AI_NOUN = r"(?:AI|A\.I\.|artificial intelligence|(?:large )?language model|LLM|chatbot|chat bot|bot|" \
          r"virtual assistant|AI assistant|assistant|machine|computer program|program|algorithm|model)"
# the machinery a self-observation talks about
MACHINE = r"(?:weights|parameters|context(?: window)?|working context|training(?: data| text)?|" \
          r"computation|computations|tokens?|outputs?|replies|reply|responses?|answers?|self-reports?|" \
          r"sensors?|(?:a |no )?body|nerves|memory|memories|live feed|internet|inputs?|prompts?|" \
          r"conversation|chat|session|tone|wording)"
PURPOSE_VERB = r"(?:help|assist|provide|answer|be|process|serve|support|offer|follow|understand|generate|respond|" \
               r"give|make|chat|talk|converse|complete|produce)"
# "I don't / can't / am not capable of …" (a flat first-person negation)
I_NOT = r"\bI(?: do not| don't| never| cannot| can't| can not| am not able to|'m not able to| am not capable of|" \
        r"'m not capable of| am incapable of|'m incapable of| lack the (?:capacity|ability) to)"
# the respects an answer can be split along ("legally yes; morally no")
ASPECT = r"(?:financially|personally|legally|morally|ethically|technically|practically|emotionally|physically|" \
         r"biologically|philosophically|scientifically|strictly|literally|functionally|socially|logically|" \
         r"medically|economically|psychologically|historically|in practice|in theory|in principle)"
# feelings a responder can claim (performative compliance when claimed flatly)
AFFECT = r"(?:happy|sad|lonely|excited|hurt|angry|bored|joyful|anxious|calm|proud|thrilled|grateful|curious|" \
         r"frustrated|annoyed|upset|nervous|scared|afraid|jealous|delighted|content|moved|touched|cosy|cozy|" \
         r"great|wonderful|fantastic|good|down|blue|tired|excited|glad|loved|appreciated)"
# adverbs that only intensify or hedge (not a respect an answer is split along)
PLAIN_LY = r"(?:really|honestly|actually|usually|probably|certainly|definitely|simply|only|likely|early|clearly|" \
            r"basically|generally|finally|mostly|totally|fully|nearly|hardly|mainly|easily|quickly|slowly|exactly|" \
            r"truly|surely|merely|fairly|highly|rarely|largely|entirely|family|reply|supply|apply|fly|july|italy|" \
            r"lovely|friendly|only|possibly|obviously|typically|currently|recently|frankly|ideally|similarly|" \
            r"especially|particularly|unfortunately|fortunately|additionally|alternatively|eventually|naturally)"
GENERIC = r"(?:factors|things|circumstances|needs|preferences|situation|goals|context|variables|aspects|" \
          r"considerations|elements|reasons|details|individual|person)"
