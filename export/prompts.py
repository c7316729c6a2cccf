"""The fixed chat prompts verification runs: varied tasks, lengths and registers."""

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "Explain photosynthesis to a ten-year-old.",
    "What is 17 times 23? Show your steps.",
    "Translate 'Where is the train station?' into Spanish and German.",
    "Give me three tips for a good night's sleep.",
    "Write a Python function that reverses a string.",
    "Summarize the plot of Romeo and Juliet in two sentences.",
    "Why is the sky blue?",
    "List the planets of the solar system in order from the sun.",
    "Write a short, polite email declining a meeting invitation.",
    "What are the pros and cons of electric cars?",
    "Tell me a joke about computers.",
    "How do I make a cup of green tea?",
    "What does HTML stand for, and what is it used for?",
    "Describe a cat to someone who has never seen one.",
    "If a train leaves at 3 pm and travels 120 km at 60 km/h, when does it arrive?",
    "Suggest a name for a bakery that sells only croissants.",
]


def chats():
    """One single-turn conversation per prompt (the template adds its default system turn)."""
    return [[{"role": "user", "content": text}] for text in PROMPTS]
