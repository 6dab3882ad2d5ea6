"""The recommended settings per model as a Markdown table, made from the rules themselves.

``python -m pipeline.judge.settings_table`` prints it; docs/datagen.md holds a copy that a test keeps equal,
so the docs cannot recommend what the shaper does not do.
"""

from __future__ import annotations

from pipeline.judge.families import family_of
from pipeline.judge.shaping import Shape, shape_request

MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro", "gemini-3.1-pro-preview",
          "gemini-3-flash-preview")
# (use, answer tokens, temperature) with the default [datagen] / [judge] values
USES = (("chosen", 2048, 0.8), ("adequate", 2048, 0.8), ("rejected", 2048, 0.8), ("expand", 1024, 1.0),
        ("judge", 512, 0.0))


def _cell(s: Shape) -> str:
    think = (f"level {s.thinking_level}" if s.thinking_level else "off" if s.thinking_budget == 0
             else "dynamic" if s.thinking_budget == -1 else f"budget {s.thinking_budget}"
             if s.thinking_budget is not None else "model default")
    temp = "" if s.temperature is not None else ", no temperature"
    return f"{think}, cap {s.max_output_tokens}{temp}"


def markdown() -> str:
    head = "| model (family) | CHOSEN | ADEQUATE | REJECTED | prompt expansion | judge | USD / 1M in, out |"
    lines = [head, "|" + "---|" * 7]
    for model in MODELS:
        fam = family_of(model)
        assert fam is not None
        cells = [_cell(shape_request("gemini", model, thinking="auto", answer_tokens=n, temperature=t, use=use,
                                     key="x")) for use, n, t in USES]
        price = fam.price
        cost = f"{price.input:g}, {price.output:g}" if price else "not known: set price_input/price_output"
        if price and price.long_input is not None:
            cost += f" (prompts > 200k: {price.long_input:g}, {price.long_output:g})"
        lines.append(f"| `{model}` ({fam.name}) | " + " | ".join(cells) + f" | {cost} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
