"""Top floor: commands that span several apps."""
