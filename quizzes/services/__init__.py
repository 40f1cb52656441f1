"""Writes of the quizzes app, one module per concern: ``answers`` (bank answers), ``attempts`` (timed
attempts: start, save, submit, grade, sweep). Reads live in ``quizzes.selectors``."""
