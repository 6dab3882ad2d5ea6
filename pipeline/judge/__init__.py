"""The judge: one interface that scores answers on seed 000's 9 dimensions and compares two answers, served by Gemini, a local GGUF or an OpenAI-compatible URL."""
