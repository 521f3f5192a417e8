"""Floor 1: the agency (机关), its units (处室/单位), people and their roles."""
