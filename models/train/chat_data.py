"""Templated English/Spanish tutor conversations built from Tatoeba pairs.

Everything is driven by a random.Random, so a seed gives the same data.
A conversation is a list of {"role", "content"} messages; each assistant
translation answer puts the translation between double quotes, after a short
lead ("In Spanish:", "En inglés:", ...), which is what the evaluation extracts.
"""
import random

SYSTEMS = [
    "You are a friendly English-Spanish language tutor.",
    "You are a helpful tutor for English and Spanish.",
    "You help people translate between English and Spanish.",
    "Eres un tutor amable de inglés y español.",
    "Eres un asistente que ayuda a traducir entre inglés y español.",
]

# (question template, answer template); {en} / {es} are the sentence pair.
# kind: en2es = the answer is Spanish, es2en = the answer is English.
EN2ES = [
    ('How do you say "{en}" in Spanish?', 'In Spanish: "{es}"'),
    ('How do I say "{en}" in Spanish?', 'You can say: "{es}"'),
    ('How would you say "{en}" in Spanish?', 'In Spanish: "{es}"'),
    ('What is "{en}" in Spanish?', 'In Spanish: "{es}"'),
    ('Translate to Spanish: {en}', 'In Spanish: "{es}"'),
    ('Translate into Spanish: "{en}"', 'In Spanish: "{es}"'),
    ('Can you translate "{en}" into Spanish?', 'Sure! In Spanish: "{es}"'),
    ('Please translate "{en}" to Spanish.', 'In Spanish: "{es}"'),
    ('Translate: {en}', 'In Spanish: "{es}"'),
    ('Translate "{en}"', 'In Spanish: "{es}"'),
    ('Spanish for "{en}"?', 'In Spanish: "{es}"'),
    ('¿Cómo se dice "{en}" en español?', 'En español: "{es}"'),
    ('¿Cómo digo "{en}" en español?', 'Puedes decir: "{es}"'),
    ('¿Qué significa "{en}"?', 'Significa: "{es}"'),
    ('Traduce al español: {en}', 'En español: "{es}"'),
    ('Traduce: {en}', 'En español: "{es}"'),
    ('¿Puedes traducir "{en}" al español?', '¡Claro! En español: "{es}"'),
]
ES2EN = [
    ('What does "{es}" mean?', 'It means: "{en}"'),
    ('What does "{es}" mean in English?', 'In English: "{en}"'),
    ('How do you say "{es}" in English?', 'In English: "{en}"'),
    ('Translate to English: {es}', 'In English: "{en}"'),
    ('Translate into English: "{es}"', 'In English: "{en}"'),
    ('Can you translate "{es}" into English?', 'Sure! In English: "{en}"'),
    ('Translate: {es}', 'In English: "{en}"'),
    ('Translate "{es}"', 'In English: "{en}"'),
    ('¿Cómo se dice "{es}" en inglés?', 'En inglés: "{en}"'),
    ('¿Cómo digo "{es}" en inglés?', 'Puedes decir: "{en}"'),
    ('¿Qué significa "{es}" en inglés?', 'En inglés: "{en}"'),
    ('Traduce al inglés: {es}', 'En inglés: "{en}"'),
    ('Traduce: {es}', 'En inglés: "{en}"'),
    ('¿Puedes traducir "{es}" al inglés?', '¡Claro! En inglés: "{en}"'),
]

GREET_EN = ["Hi!", "Hello!", "Hello", "Hi", "Hey!", "Good morning!", "Good afternoon!", "Good evening!",
            "Hi there!", "Hello, how are you?"]
GREET_ES = ["¡Hola!", "Hola", "Hola, ¿qué tal?", "¡Buenos días!", "Buenos días", "¡Buenas tardes!",
            "Buenas noches", "Hola, ¿cómo estás?"]
GREET_REPLY_EN = [
    "Hello! I'm your English-Spanish tutor. What would you like to translate?",
    "Hi! Ask me how to say something in Spanish or in English.",
    "Hello! How can I help you with English or Spanish today?",
]
GREET_REPLY_ES = [
    "¡Hola! Soy tu tutor de inglés y español. ¿Qué quieres traducir?",
    "¡Hola! Pregúntame cómo se dice algo en inglés o en español.",
    "¡Hola! ¿En qué te puedo ayudar hoy?",
]
THANKS_EN = ["Thanks!", "Thank you!", "Thanks a lot.", "Great, thanks!", "Thank you very much."]
THANKS_ES = ["¡Gracias!", "Gracias", "Muchas gracias.", "¡Genial, gracias!"]
THANKS_REPLY_EN = ["You're welcome!", "You're welcome! Anything else?", "Happy to help!"]
THANKS_REPLY_ES = ["¡De nada!", "¡De nada! ¿Algo más?", "¡Con mucho gusto!"]
BYE_EN = ["Bye!", "Goodbye!", "See you later!", "Bye, thanks!", "That's all, goodbye."]
BYE_ES = ["¡Adiós!", "Adiós", "¡Hasta luego!", "Chao, gracias.", "Eso es todo, adiós."]
BYE_REPLY_EN = ["Goodbye! Keep practicing.", "Bye! Good luck with your Spanish.", "See you! Keep practicing."]
BYE_REPLY_ES = ["¡Adiós! Sigue practicando.", "¡Hasta luego! Suerte con tu inglés.", "¡Nos vemos! Sigue practicando."]


def small_talk(rng, kind):
    es = rng.random() < 0.45
    if kind == "greet":
        return rng.choice(GREET_ES if es else GREET_EN), rng.choice(GREET_REPLY_ES if es else GREET_REPLY_EN)
    if kind == "thanks":
        return rng.choice(THANKS_ES if es else THANKS_EN), rng.choice(THANKS_REPLY_ES if es else THANKS_REPLY_EN)
    return rng.choice(BYE_ES if es else BYE_EN), rng.choice(BYE_REPLY_ES if es else BYE_REPLY_EN)


def question(rng, pair, direction=None):
    """-> (user text, assistant text, direction, translated part)."""
    en, es = pair
    if direction is None:
        direction = "en2es" if rng.random() < 0.5 else "es2en"
    q, a = rng.choice(EN2ES if direction == "en2es" else ES2EN)
    if rng.random() < 0.08:
        q = q[0].lower() + q[1:]
    return q.format(en=en, es=es), a.format(en=en, es=es), direction, (es if direction == "en2es" else en)


def conversation(rng, pairs):
    """One training conversation: optional system prompt, optional greeting,
    1-4 translation questions (mixed with thanks), optional goodbye."""
    msgs = []
    if rng.random() < 0.3:
        msgs.append({"role": "system", "content": rng.choice(SYSTEMS)})
    if rng.random() < 0.25:
        u, a = small_talk(rng, "greet")
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    nq = rng.choice([1, 1, 1, 2, 2, 3, 4])
    for i in range(nq):
        u, a, _, _ = question(rng, rng.choice(pairs))
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        if i < nq - 1 and rng.random() < 0.1:
            u, a = small_talk(rng, "thanks")
            msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    r = rng.random()
    if r < 0.15:
        u, a = small_talk(rng, "thanks")
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    elif r < 0.3:
        u, a = small_talk(rng, "bye")
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return msgs


def test_prompts(rng, pairs, n_per_dir):
    """Held-out turns: (messages up to the user question, direction, reference
    translated part, source pair). Half are the second question of a
    conversation (multi-turn), some start with a greeting or a system prompt."""
    out = []
    for direction in ("en2es", "es2en"):
        for _ in range(n_per_dir):
            msgs = []
            if rng.random() < 0.25:
                msgs.append({"role": "system", "content": rng.choice(SYSTEMS)})
            r = rng.random()
            if r < 0.2:
                u, a = small_talk(rng, "greet")
                msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
            elif r < 0.6:
                u, a, _, _ = question(rng, rng.choice(pairs))
                msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
            pair = rng.choice(pairs)
            u, a, d, ref = question(rng, pair, direction)
            msgs.append({"role": "user", "content": u})
            out.append({"messages": msgs, "direction": d, "reference": ref, "answer": a, "pair": pair})
    return out


def extract(answer):
    """The translated part of an answer: between the first and the last '"'."""
    i, j = answer.find('"'), answer.rfind('"')
    if i >= 0 and j > i:
        return answer[i + 1:j]
    return answer.strip()


CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def render(msgs, add_generation_prompt=False):
    s = "".join("<|im_start|>" + m["role"] + "\n" + m["content"] + "<|im_end|>\n" for m in msgs)
    return s + ("<|im_start|>assistant\n" if add_generation_prompt else "")


if __name__ == "__main__":
    rng = random.Random(0)
    pairs = [("I'm hungry.", "Tengo hambre."), ("Where is the station?", "¿Dónde está la estación?")]
    for _ in range(3):
        print(render(conversation(rng, pairs)))
