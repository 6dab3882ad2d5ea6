"""Training data: the builtin corpora (JSONL files here) and the loaders that validate users' files."""
