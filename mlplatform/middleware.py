from django.conf import settings
from django.contrib.auth.views import redirect_to_login

# Paths that answer without a session: health probes, login, the API (which does its own
# token/session authentication and answers 401 in JSON instead of redirecting) and the
# metrics (bearer token for scrapers, answered 401 without it).
PUBLIC_PREFIXES = ("/health", "/metrics", "/accounts/login", "/api/", "/static/", "/admin/")


class LoginRequiredMiddleware:
    """Every page needs an authenticated user unless it is explicitly public."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)
