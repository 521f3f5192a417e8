"""Compliance engine (issue 6): the duty to record, made checkable.

Each rule of the two regulations that data can decide is a small named unit in
``compliance.rules`` (its requirement ID, its articles, a set-based query). ``engine.run``
evaluates the rules for the profile version in force when each activity happened and
reconciles their matches with ``findings.Finding``: new matches raise findings (audited),
open findings whose condition is gone are resolved (audited), resolved ones that match again
reopen. ``witness check`` runs it by hand, the scheduler every night, ingest after each run.
"""
