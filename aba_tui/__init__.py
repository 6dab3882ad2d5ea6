"""ABA Control Centre: the Textual app and the `aba` command line.

This package never imports torch, transformers, trl, peft, unsloth, bitsandbytes, llama_cpp,
google.genai or optuna (tests/project/test_import_hygiene.py proves it in a fresh interpreter).
"""

__version__ = "0.1.0"
