from witness.audit import context


class RequestContextMiddleware:
    """Gives every request an id and records the client address for audit entries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-ID", "")[:64] or None
        with context.bind(request_id=request_id, client_addr=request.META.get("REMOTE_ADDR", ""),
                          actor=getattr(request, "user", None)) as ctx:
            request.audit_request_id = ctx.request_id
            response = self.get_response(request)
        response["X-Request-ID"] = ctx.request_id
        return response
