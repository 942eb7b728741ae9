"""Model lifecycle: fetch and verify deployed artifacts, persist the current model, hot swap, shadow."""
