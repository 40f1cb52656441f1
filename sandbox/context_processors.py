from sandbox import backend_label


def sandbox_status(request):
    """Pages say loudly when untrusted code would run without isolation."""
    return {"sandbox": backend_label()}
