"""Policy arithmetic on simulated results: the verdeelmodel (budgets per municipality against what their clients cost)."""
