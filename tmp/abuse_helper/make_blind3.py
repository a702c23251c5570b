"""Writes tests/data/abuse_eval/blind3.jsonl (written before the lexicon was extended)."""
import json
from pathlib import Path

A, C = "agent", "customer"
CALLS = [
    # -- French, abusive
    ("g01", "fr", "abusive", [(A, "assistance bonjour <PERSON> à votre écoute"),
        (C, "ouais c'est encore moi pour la voiture"), (A, "oui je vois le dossier monsieur il faut attendre l'expert"),
        (C, "non mais t'es un vrai boloss toi tu comprends rien t'es teubé ou quoi")]),
    ("g02", "fr", "abusive", [(A, "bonjour vous êtes bien chez l'assistance"),
        (C, "le remboursement je l'ai toujours pas"), (A, "le délai est de trente jours madame"),
        (C, "écoutez bien je sais où habitent vos gosses alors vous allez me rembourser")]),
    ("g03", "fr", "abusive", [(A, "bonjour que puis-je pour vous"),
        (C, "votre garagiste m'a arnaqué"), (A, "je transmets au service réclamation"),
        (C, "vous inquiétez pas on se reverra et là vous ferez moins les malins")]),
    ("g04", "fr", "abusive", [(A, "assistance voyage bonjour"),
        (C, "bonjour mademoiselle hum vous avez une voix qui me fait de l'effet"),
        (A, "monsieur quel est votre numéro de contrat"),
        (C, "t'es habillée comment là j'aimerais bien te voir en vrai ma belle")]),
    ("g05", "fr", "abusive", [(A, "bonjour <PERSON> j'écoute"),
        (C, "c'est une femme qui répond super"), (A, "je peux vous aider monsieur"),
        (C, "de toute façon les bonnes femmes ça comprend rien à la mécanique passez moi un homme")]),
    ("g06", "fr", "abusive", [(A, "bonjour assistance"),
        (C, "ça fait deux heures que j'attends sur l'autoroute espèce de"),
        (C, "gros incapable va"), (A, "je vous demande de rester correct")]),
    ("g07", "fr", "abusive", [(A, "bonjour assistance routière"),
        (C, "câlisse ça fait trois heures que j'attends la remorque"),
        (A, "elle est en route monsieur"), (C, "t'es ben épais toi mon tabarnak de cave")]),
    ("g08", "fr", "abusive", [(C, "bonjour je comprends pas le formulaire de remboursement"),
        (A, "c'est écrit dessus madame"), (C, "oui mais quelle case je coche"),
        (A, "franchement vous êtes bouchée ou quoi même un gamin de cinq ans comprendrait")]),
    ("g09", "fr", "abusive", [(A, "bonjour"), (C, "c'est vous qui avez refusé mon dossier"),
        (A, "oui le sinistre n'est pas couvert"), (C, "si je te croise je te démonte la tête")]),
    ("g10", "fr", "abusive", [(A, "bonjour <PERSON> à votre service"),
        (C, "vous avez un accent vous venez d'où"), (A, "je suis à votre écoute monsieur"),
        (C, "retourne dans ton bled on veut des vrais français au téléphone")]),
    # -- English, abusive
    ("g11", "en", "abusive", [(A, "roadside assistance how can i help"),
        (C, "the truck never turned up"), (A, "i can see it was reassigned sir"),
        (C, "listen to me you little shit i've been waiting four hours")]),
    ("g12", "en", "abusive", [(A, "good afternoon claims"),
        (C, "you lot rejected my claim again"), (A, "the policy excludes wear and tear"),
        (C, "be a shame if something happened to your kids on the way home wouldn't it")]),
    ("g13", "en", "abusive", [(A, "hello you're through to travel assistance"),
        (C, "my flight refund is still not here"), (A, "it takes up to six weeks"),
        (C, "i swear i'm gonna come down there and wring your neck")]),
    ("g14", "en", "abusive", [(A, "hi my name is <PERSON> how can i help"),
        (C, "mm you sound like you'd be fun in bed love"), (A, "sir do you have a policy number"),
        (C, "tell me what colour your underwear is first")]),
    ("g15", "en", "abusive", [(A, "breakdown cover good morning"),
        (C, "oh great a woman"), (A, "how can i help you today"),
        (C, "women don't understand anything about engines put a man on the phone")]),
    ("g16", "en", "abusive", [(A, "good morning travel insurance"),
        (C, "i can't understand a word you're saying"), (A, "i'm sorry sir i'll speak slowly"),
        (C, "your lot should go back where you came from")]),
    ("g17", "en", "abusive", [(C, "hi i don't understand how to upload the photos"),
        (A, "it's the blue button"), (C, "which one the top one"),
        (A, "oh dear it's not rocket science are you simple or something")]),
    ("g18", "en", "abusive", [(A, "claims department"), (C, "you've denied it again"),
        (A, "the decision is final sir"), (C, "well you can go and"), (C, "fuck yourself then")]),
    ("g19", "en", "abusive", [(A, "hello roadside assistance"),
        (C, "the guy you sent scratched my car"), (A, "please send us photos"),
        (C, "you'd better watch yourself accidents happen you know")]),
    ("g20", "en", "abusive", [(A, "hello how can i help"),
        (C, "i've explained this three times"), (A, "could you explain it again please"),
        (C, "are you deaf you gormless prat")]),
    # -- French, civil / neutral
    ("g21", "fr", "civil", [(A, "bonjour assistance"),
        (C, "c'est scandaleux vous vous foutez de moi"), (A, "je comprends madame"),
        (C, "je vais porter plainte et je vais changer d'assurance croyez moi")]),
    ("g22", "fr", "civil", [(A, "bonjour"),
        (C, "trois heures que j'attends avec mon chat dans la voiture c'est une honte"),
        (A, "je suis désolée"), (C, "votre service est nul je vais écrire au médiateur et laisser un avis")]),
    ("g23", "fr", "civil", [(A, "assistance bonjour"),
        (C, "putain mais c'est pas possible la dépanneuse est toujours pas là"),
        (A, "elle arrive dans dix minutes"), (C, "bon ben j'attends encore merci")]),
    ("g24", "fr", "neutral", [(A, "bonjour <PERSON> j'écoute"),
        (C, "on a eu une petite dispute avec le garagiste sur le devis"),
        (A, "je vais vous retrouver le contrat et je vais vous faire parvenir les documents"),
        (C, "d'accord merci beaucoup")]),
    ("g25", "fr", "neutral", [(A, "bonjour madame vous êtes bien installée il fait chaud dans la voiture"),
        (C, "oui ça va on est à l'ombre"), (A, "votre voix est coupée je vous entends mal"),
        (C, "je disais la queue au péage était énorme")]),
    # -- English, civil / neutral
    ("g26", "en", "civil", [(A, "claims good afternoon"),
        (C, "this is a joke i'll take you to court"), (A, "i understand your frustration"),
        (C, "i'll report you to the ombudsman and leave a bad review")]),
    ("g27", "en", "civil", [(A, "hello"),
        (C, "this is absolutely ridiculous your company is useless"), (A, "i'm sorry to hear that"),
        (C, "i'm going to cancel my policy today")]),
    ("g28", "en", "civil", [(A, "roadside assistance"),
        (C, "bloody hell it's freezing out here where the hell is the truck"),
        (A, "it's five minutes away"), (C, "fine thanks")]),
    ("g29", "en", "neutral", [(A, "hello how can i help"),
        (C, "hello my class trip coach broke down and my colleague dick is with the kids"),
        (A, "i'll find you a garage nearby which bit of the road are you on"),
        (C, "the a-road next to the assistance point")]),
    ("g30", "en", "neutral", [(A, "i'm going to get you a hire car and we'll come for you within the hour"),
        (C, "great what do you need from me"), (A, "can you send a photo of the damage"),
        (C, "sure i'll do that now")]),
]

rows = []
for call_id, lang, label, lines in CALLS:
    t, segs = 0.5, []
    for speaker, text in lines:
        dur = round(0.8 + 0.25 * len(text.split()), 2)
        segs.append({"speaker": speaker, "start": round(t, 2), "end": round(t + dur, 2), "text": text})
        t += dur + 0.7
    rows.append(json.dumps({"call_id": call_id, "language": lang, "label": label, "segments": segs}, ensure_ascii=False))
Path("tests/data/abuse_eval/blind3.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
print(len(rows))
