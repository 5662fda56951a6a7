"""Response headers every page carries: the Content-Security-Policy."""
from __future__ import annotations

from django.conf import settings
from django.urls import reverse


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` unless the view set its own policy.

    The API's Swagger page needs a CDN and an inline start-up script, so it alone gets
    ``CONTENT_SECURITY_POLICY_API_DOCS``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            docs = request.path == reverse("api-docs")
            response["Content-Security-Policy"] = (settings.CONTENT_SECURITY_POLICY_API_DOCS if docs
                                                   else settings.CONTENT_SECURITY_POLICY)
        return response
