"""Thin Celery wrapper: the periodic sweep that submits attempts nobody is looking at."""

from celery import shared_task

from quizzes.services.attempts import attempts_close_overdue


@shared_task(acks_late=True)
def close_overdue_attempts() -> int:
    return attempts_close_overdue()
