from cohorts.roles import is_instructor


def roles(request):
    # No user on a request refused before the authentication middleware ran (a 400 for a bad Host header,
    # rendered with templates/400.html): such a page is no instructor's.
    user = getattr(request, "user", None)
    return {"is_instructor": user is not None and is_instructor(user)}
