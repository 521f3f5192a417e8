"""Floor 1: policy profiles — everything the two regulations disagree on, as data (TOML)."""
