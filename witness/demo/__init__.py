"""Top floor: ``witness demo`` — a demo agency to look at and click through."""
