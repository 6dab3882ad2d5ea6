"""The judge: seed 000's 9-dimension scores and pairwise verdicts from Gemini, a local GGUF or an OpenAI URL."""
