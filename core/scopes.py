"""What every view declares: ``required_scope``, the scope a token needs to call it.

The scopes themselves belong to the tenants app (tenants/scopes.py), which enforces them.
"""

# Declared by a view that any valid token may call (GET /token): a choice, not an omission.
NO_SCOPE = "<no scope>"
