"""A/B chat: model processes, a light streaming client, sessions, votes and batteries (no Textual).

Only ``serve`` imports llama_cpp, and it runs as its own process; everything else is stdlib and safe
to import from the UI.
"""
