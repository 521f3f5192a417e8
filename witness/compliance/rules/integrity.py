"""Rules about integrity (issue 6 item 1). Filled in by the issue 6 work."""
