"""Ground floor: small helpers shared by every app (errors, CLI plumbing). No models."""
