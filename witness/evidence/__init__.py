"""Evidence packages (issue 7): export as a signed BagIt bag, and verify one."""
