"""What a call costs: USD per million tokens by model family, thinking billed as output.

Gemini Developer API paid tier ("Output price (including thinking tokens)"); Pro models charge more
for prompts over 200k tokens. Vertex AI prices are not verified here: a config's ``price_input`` /
``price_output`` override the table (docs/judge.md, "Prices").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M output tokens, thinking included
    long_input: float | None = None  # prompts over ``long_above`` tokens (Pro models)
    long_output: float | None = None
    long_above: int = 200_000

    def cost(self, prompt_tokens: int, output_tokens: int) -> float:
        """One request's cost; the long-context tier is decided by the prompt's size."""
        long = self.long_input is not None and prompt_tokens > self.long_above
        p_in = self.long_input if long and self.long_input is not None else self.input
        p_out = self.long_output if long and self.long_output is not None else self.output
        return (prompt_tokens * p_in + output_tokens * p_out) / 1e6


FREE = Price(0.0, 0.0)
PRICES: dict[str, Price] = {
    "2.5-flash": Price(0.30, 2.50),
    "2.5-flash-lite": Price(0.10, 0.40),
    "2.5-pro": Price(1.25, 10.00, 2.50, 15.00),
    "3-pro": Price(2.00, 12.00, 4.00, 18.00),
    "3.x-pro": Price(2.00, 12.00, 4.00, 18.00),
    "3.x-flash": Price(0.50, 3.00),
}


def price_for(family: str | None, price_input: float = -1.0, price_output: float = -1.0) -> Price | None:
    """The table's price for ``family``, with either side overridden when ≥ 0 (a flat price then);
    None when neither the table nor the config knows it (the ledger then counts no cost)."""
    base = PRICES.get(family or "")
    if price_input >= 0 or price_output >= 0:
        return Price(price_input if price_input >= 0 else (base.input if base else 0.0),
                     price_output if price_output >= 0 else (base.output if base else 0.0))
    return base
