"""Safe parsing, bounded evaluation and equivalence of learner formulas."""
