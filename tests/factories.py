"""Small builders for test data (plain functions: the models are simple)."""

from django.contrib.auth.models import User

from cohorts.roles import INSTRUCTOR, STUDENT, role_grant
from quizzes.models import Part, Question

PASSWORD = "a-long-test-password"


def user_make(username: str, *, role: str = STUDENT) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    role_grant(user=user, role=role)
    return user


def instructor_make(username: str = "teacher") -> User:
    return user_make(username, role=INSTRUCTOR)


def question_make(slug: str = "kv-cache-7b") -> Question:
    question = Question.objects.create(
        slug=slug, title="KV cache of a 7B model", tier="L1", tags=["kv-cache"],
        body="With $n_{layers} = 32$ layers, $d = 4096$ and FP16, how large is the KV cache per token?")
    Part.objects.create(question=question, key="a", order=0, kind="numeric",
                        prompt="Bytes per token, in KB ($2 \\cdot n_{layers} \\cdot d \\cdot 2$ bytes)",
                        spec={"kind": "numeric", "answer": "2*32*4096*2/1000", "unit": "KB", "rtol": 0.01,
                              "misconceptions": [{"id": "no-k-and-v", "value": "32*4096*2/1000",
                                                  "feedback": "Both K and V are cached: multiply by 2."}]})
    Part.objects.create(question=question, key="b", order=1, kind="symbolic", prompt="The affine dequantization",
                        spec={"kind": "symbolic", "expected": "s*(q - z)",
                              "symbols": {"s": {"domain": "positive"}, "q": {}, "z": {}}})
    return question
