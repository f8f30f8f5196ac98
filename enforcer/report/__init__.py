"""What people and machines read: rich console views and JSON views of facts, plans, runs and the
desired state; never a secret value (a secret shows where it comes from, never what it is)."""
