"""The content under ``fixtures/``: read, validated and loaded into the apps' models, in one place.

Two layers. The readers know the files and no ORM: ``content.reader`` (questions and drill decks, the
schema of docs/content.md) and ``content.labs`` (lab folders, docs/labs.md; the grader and the GPU check
read a lab through it without Django), with ``content.upsert``, the one way a loader writes a row. The
loaders write the apps' models: ``content.load`` (questions and parts, decks and cards, labs, and
``content_write``, which ``manage.py load_content`` runs) and ``content.catalogue`` (the drill cards' mirror
questions and the built-in quizzes). The loaders import the apps; the apps import only the readers and
``content.upsert``, and never each other for loading (tests/content/test_architecture.py)."""
