"""Annual review (评查, SUP-1) and inspections (SUP-3): campaigns, reproducible samples,
time-limited viewing of exactly the sampled items, checklist scores, the campaign report."""
