"""Writes of the quizzes app, one module per concern: ``answers`` (bank answers), ``attempts`` (timed
attempts: start, save, submit, grade, sweep), ``accommodations`` (an instructor's changes to one learner's
quiz), ``quizzes`` (an instructor's quizzes) and ``drill_quizzes`` (the drill cards' quizzes). Reads live in
``quizzes.selectors``."""
