"""Ground floor: findings (问题线索) and violations (违规登记, SUP-2).

Objects are referenced generically (content type + id), so this app knows nothing of
the domain. The compliance issue adds the rules and the explain/accept/escalate workflow.
"""
