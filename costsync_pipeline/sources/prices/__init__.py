"""Model price sources: LiteLLM's price map, seed 002's price file, seed 000's events."""
