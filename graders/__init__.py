"""Pure grading functions: learner answers and lab outputs in, verdicts out. No ORM, no I/O."""
