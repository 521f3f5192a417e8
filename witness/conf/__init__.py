"""Ground floor: typed settings helpers (no Django imports beyond exceptions)."""
